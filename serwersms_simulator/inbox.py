"""The simulator's HTML inbox: what each recipient's phone would show."""

from __future__ import annotations

from collections import defaultdict
from html import escape
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from .server import SentCall, SentMms, SentSms, SerwerSmsSimulator

_STYLE = """
body{font-family:system-ui,sans-serif;margin:2rem;background:#f4f6f8;color:#1c2733}
h1{font-size:1.4rem} .mms{background:#fff;border-radius:12px;padding:1rem 1.2rem;margin:0 0 1rem;
box-shadow:0 1px 3px #0002;max-width:48rem} .title{font-weight:600;font-size:1.1rem}
.to{color:#567;font-size:.9rem;margin:.2rem 0 .6rem} .text{white-space:pre-wrap;margin:.4rem 0}
img{max-width:220px;max-height:220px;border-radius:8px;margin:.3rem .3rem 0 0;border:1px solid #ccd}
.meta{color:#789;font-size:.8rem} .empty{color:#789}
.phone{display:inline-block;margin:0 .5rem .2rem 0} .state{border-radius:6px;padding:0 .35rem;
font-size:.8rem;margin-left:.25rem;background:#e3e8ee} .state.delivered{background:#d3f2dc;color:#1b6b35}
.state.undelivered{background:#fbdada;color:#9b1c1c} .state.sent{background:#fff1c9;color:#7a5a00}
.kind{font-size:.75rem;font-weight:600;border-radius:6px;padding:0 .4rem;margin-right:.4rem;color:#fff}
.kind.mms{background:#4a6fa5} .kind.sms{background:#3c8c5a} .kind.call{background:#a5634a}
form.reply{display:inline-block;margin:.2rem .6rem .2rem 0} form.reply input[type=text]{width:12rem}
.reply-in{background:#eef6ff;border-left:3px solid #4a6fa5;padding:.2rem .5rem;margin:.3rem 0}
"""


# Reload every 3 s, except while a reply is being typed.
_RELOAD = (
    "<script>setInterval(()=>{const a=document.activeElement;"
    "if(!a||a.tagName!=='INPUT')location.reload()},3000)</script>"
)


def _delivery_state(message: SentMms | SentSms | SentCall, now: float) -> str:
    """One recipient's number with the report the gateway would give right now."""
    status, reason = message.report(now)
    label = status.replace("_", " ") + (f" ({reason})" if reason else "")
    return (
        f'<span class="phone">{escape(message.phone)}'
        f'<span class="state {escape(status)}">{escape(label)}</span></span>'
    )


def _mms_card(simulator: SerwerSmsSimulator, index: int, group: list[SentMms], now: float) -> str:
    first = group[0]
    images = "".join(
        f'<img src="/_sim/files/{escape(file_id)}" alt="{escape(simulator.files[file_id].name)}" '
        f'title="{escape(simulator.files[file_id].name)} ({simulator.files[file_id].size} B)">'
        for file_id in first.file_ids
        if file_id in simulator.files
    )
    scheduled = f" · scheduled {escape(first.scheduled)}" if first.scheduled else ""
    return (
        f'<div class="mms"><div class="title"><span class="kind mms">MMS</span>{escape(first.title)}</div>'
        f'<div class="to">to {"".join(_delivery_state(m, now) for m in group)}</div>'
        f'<div class="text">{escape(first.text or "")}</div>{images}'
        f'<div class="meta">request #{index} · {len(group)} recipient(s) · files '
        f"{escape(', '.join(first.file_ids) or '—')}{scheduled}</div></div>"
    )


def _reply_form(sms: SentSms) -> str:
    """A reply from this phone: only an ECO SMS (sent from the gateway's shared numbers) can be answered."""
    return (
        '<form class="reply" method="post" action="/_sim/reply">'
        f'<input type="hidden" name="phone" value="{escape(sms.phone)}">'
        f'<input type="hidden" name="message_id" value="{escape(sms.id)}">'
        f'<input type="text" name="text" value="OK" aria-label="reply text">'
        f'<button type="submit">Reply from {escape(sms.phone)}</button></form>'
    )


def _sms_card(simulator: SerwerSmsSimulator, index: int, group: list[SentSms], now: float) -> str:
    first = group[0]
    sender = f"from {escape(first.sender)}" if first.sender else "ECO (shared numbers, repliable)"
    flags = "".join(f" · {flag}" for flag, on in (("flash", first.flash), ("priority", first.speed)) if on)
    scheduled = f" · scheduled {escape(first.scheduled)}" if first.scheduled else ""
    ids = {sms.id for sms in group}
    replies = "".join(
        f'<div class="reply-in">↩ {escape(reply.phone)}: {escape(reply.text)}'
        f"{' (read)' if reply.read else ''}</div>"
        for reply in simulator.received
        if reply.message_id in ids
    )
    forms = "".join(_reply_form(sms) for sms in group) if first.type == "eco" else ""
    return (
        f'<div class="mms sms"><div class="title"><span class="kind sms">SMS</span>{sender}</div>'
        f'<div class="to">to {"".join(_delivery_state(m, now) for m in group)}</div>'
        f'<div class="text">{escape(first.text)}</div>{replies}{forms}'
        f'<div class="meta">request #{index} · {len(group)} recipient(s) · {first.parts} part(s)'
        f"{flags}{scheduled}</div></div>"
    )


def _call_card(index: int, group: list[SentCall], now: float) -> str:
    first = group[0]
    said = escape(first.text) if first.text is not None else f"recording {escape(first.file_id or '')}"
    scheduled = f" · scheduled {escape(first.scheduled)}" if first.scheduled else ""
    return (
        f'<div class="mms call"><div class="title"><span class="kind call">CALL</span>text to speech</div>'
        f'<div class="to">to {"".join(_delivery_state(m, now) for m in group)}</div>'
        f'<div class="text">“{said}”</div>'
        f'<div class="meta">request #{index} · {len(group)} recipient(s){scheduled}</div></div>'
    )


def render_inbox(simulator: SerwerSmsSimulator) -> str:
    """Render every received MMS, SMS and call, newest first, one card per send request."""
    mms: dict[int, list[SentMms]] = defaultdict(list)
    sms: dict[int, list[SentSms]] = defaultdict(list)
    calls: dict[int, list[SentCall]] = defaultdict(list)
    for message in simulator.messages:
        mms[message.request_index].append(message)
    for text in simulator.sms:
        sms[text.request_index].append(text)
    for call in simulator.calls:
        calls[call.request_index].append(call)
    now = simulator.clock()
    cards: dict[int, str] = {}
    cards.update((index, _mms_card(simulator, index, group, now)) for index, group in mms.items())
    cards.update((index, _sms_card(simulator, index, group, now)) for index, group in sms.items())
    cards.update((index, _call_card(index, group, now)) for index, group in calls.items())
    credits = "no limit" if simulator.credits is None else str(simulator.credits)
    body = "".join(cards[index] for index in sorted(cards, reverse=True))
    body = body or '<p class="empty">No MMS, SMS or call received yet.</p>'
    others = " · ".join(
        f"{kind} {'no limit' if value is None else value}" for kind, value in simulator.type_credits.items()
    )
    return (
        '<!doctype html><html lang="en"><head><meta charset="utf-8">'
        f"<title>SerwerSMS simulator inbox</title><style>{_STYLE}</style>{_RELOAD}</head><body>"
        f'<h1>SerwerSMS simulator — inbox</h1><p class="meta">MMS credits left: {credits} · '
        f"{escape(others)} · "
        f"{len(simulator.files)} file(s) stored · {len(simulator.requests)} API request(s)</p>"
        f"{body}</body></html>"
    )
