"""How long kefu waits on any HTTP peer: WeChat's API, the CMS and image hosts."""

from __future__ import annotations

# (connect, read) seconds. Connect just over 3 s, TCP's first retransmission (requests' advice);
# read 10 s per socket read, far above a healthy answer. Whole-download deadlines sit on top.
HTTP_TIMEOUT: tuple[float, float] = (3.05, 10.0)
