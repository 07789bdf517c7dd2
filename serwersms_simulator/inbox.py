"""The simulator's HTML inbox: what each recipient's phone would show."""

from __future__ import annotations

from collections import defaultdict
from html import escape
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from .server import SentMms, SerwerSmsSimulator

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
"""


def _delivery_state(message: SentMms, now: float) -> str:
    """One recipient's number with the report the gateway would give right now."""
    status, reason = message.report(now)
    label = status.replace("_", " ") + (f" ({reason})" if reason else "")
    return (
        f'<span class="phone">{escape(message.phone)}'
        f'<span class="state {escape(status)}">{escape(label)}</span></span>'
    )


def render_inbox(simulator: SerwerSmsSimulator) -> str:
    """Render every received MMS, newest first, one card per send request."""
    by_request: dict[int, list[SentMms]] = defaultdict(list)
    for message in simulator.messages:
        by_request[message.request_index].append(message)
    cards = []
    now = simulator.clock()
    for index in sorted(by_request, reverse=True):
        group = by_request[index]
        first = group[0]
        images = "".join(
            f'<img src="/_sim/files/{escape(file_id)}" alt="{escape(simulator.files[file_id].name)}" '
            f'title="{escape(simulator.files[file_id].name)} ({simulator.files[file_id].size} B)">'
            for file_id in first.file_ids
            if file_id in simulator.files
        )
        scheduled = f" · scheduled {escape(first.scheduled)}" if first.scheduled else ""
        cards.append(
            f'<div class="mms"><div class="title">{escape(first.title)}</div>'
            f'<div class="to">to {"".join(_delivery_state(m, now) for m in group)}</div>'
            f'<div class="text">{escape(first.text or "")}</div>{images}'
            f'<div class="meta">request #{index} · {len(group)} recipient(s) · files '
            f"{escape(', '.join(first.file_ids) or '—')}{scheduled}</div></div>"
        )
    credits = "no limit" if simulator.credits is None else str(simulator.credits)
    body = "".join(cards) or '<p class="empty">No MMS received yet.</p>'
    return (
        '<!doctype html><html lang="en"><head><meta charset="utf-8"><meta http-equiv="refresh" content="3">'
        f"<title>SerwerSMS simulator inbox</title><style>{_STYLE}</style></head><body>"
        f'<h1>SerwerSMS simulator — inbox</h1><p class="meta">MMS credits left: {credits} · '
        f"{len(simulator.files)} file(s) stored · {len(simulator.requests)} API request(s)</p>"
        f"{body}</body></html>"
    )
