"""Where users talk to jiso: each channel turns its payloads into questions and records them."""
