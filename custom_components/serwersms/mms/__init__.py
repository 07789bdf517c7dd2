"""The send pipeline: recipients, attachments, image fitting, uploads and the sender."""
