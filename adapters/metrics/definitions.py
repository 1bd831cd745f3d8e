"""Every Prometheus metric kefu keeps; docs/operations.md lists them with what each means.

Labels take only values from small fixed sets (an outcome, a reply kind, a WeChat errcode):
never an openid, a keyword or an errmsg, so no series grows without bound.
"""

from __future__ import annotations

from prometheus_client import Counter, Gauge, Histogram, values

from adapters.process import current_pid

# NOTE: in multiprocess mode (under gunicorn) prometheus_client asks the process id on every
# inc, observe and set, to notice a fork: os.getpid(), a system call (0.7 µs and more on a
# loaded VM), three times a push. The same check with the id kept by adapters.process. Set
# before any metric below is made, as each takes its value class when made.
if values.ValueClass is not values.MutexValue:
    per_process = values.MultiProcessValue  # prometheus_client.values has no annotations
    values.ValueClass = per_process(process_identifier=current_pid)  # type: ignore[no-untyped-call]

# WeChat gives up on an answer after 5 s: the buckets are fine below that and coarse above.
_ACK_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
_SEND_BUCKETS = (0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)

PUSHES = Counter(
    "kefu_pushes",
    "POSTs to the callback by outcome: accepted, refused (not WeChat's), malformed.",
    ["outcome", "reason"],
)
DUPLICATE_PUSHES = Counter(
    "kefu_duplicate_pushes",
    "Accepted pushes that were retries of one already being or already answered.",
)
ACK_SECONDS = Histogram(
    "kefu_push_ack_seconds",
    "Seconds from a genuine push's arrival to kefu's answer to WeChat.",
    buckets=_ACK_BUCKETS,
)
REPLY_SENDS = Counter(
    "kefu_reply_sends",
    "Customer-service messages sent to WeChat, by kind and WeChat's errcode (0: sent).",
    ["kind", "errcode"],
)
SEND_SECONDS = Histogram(
    "kefu_reply_send_seconds",
    "Seconds one customer-service send to WeChat took, by kind.",
    ["kind"],
    buckets=_SEND_BUCKETS,
)
TOKEN_FETCHES = Counter(
    "kefu_token_fetches",
    "Access token fetches from WeChat, by errcode (0: a token was issued).",
    ["errcode"],
)
MEDIA_UPLOADS = Counter(
    "kefu_media_uploads",
    "Images uploaded to WeChat as temporary media, by outcome (ok, failed).",
    ["outcome"],
)
MEDIA_CACHE_HITS = Counter(
    "kefu_media_cache_hits",
    "Images sent with a media id uploaded earlier, so not uploaded again.",
)
STATE_STORE_FAILURES = Counter(
    "kefu_state_store_failures",
    "Calls to the state store (Redis or KEFU_STATE_DIR) that failed.",
)
RULES_REFRESHES = Counter(
    "kefu_rules_refreshes",
    "Attempts to refresh the rules from the CMS or the file, by outcome (ok, failed).",
    ["outcome"],
)
RULES_KEYWORDS = Gauge(
    "kefu_rules_keywords",
    "Keys of the rules in force (keywords, patterns, default and @enter).",
    multiprocess_mode="mostrecent",
)
RULES_REJECTED = Gauge(
    "kefu_rules_rejected_keys",
    "Keys of the rules document left out because they are broken (kefu rules check names them).",
    multiprocess_mode="mostrecent",
)
RULES_VERSION = Gauge(
    "kefu_rules_version",
    "The first 8 hex digits of the rules version as a number: it changes when the rules do.",
    multiprocess_mode="mostrecent",
)
RULES_LOADED = Gauge(
    "kefu_rules_loaded_timestamp_seconds",
    "Unix time the rules in force were last fetched or confirmed unchanged.",
    multiprocess_mode="max",
)
RULES_LAST_REFRESH_OK = Gauge(
    "kefu_rules_last_refresh_ok",
    "1 when the latest refresh of the rules succeeded, 0 when it failed.",
    multiprocess_mode="mostrecent",
)
REPLIES = Counter(
    "kefu_replies",
    "Attempts at queued reply jobs by outcome: sent, retried (retry scheduled), dead_lettered, "
    "uncertain (a send that never came back: listed as a dead letter, not sent again).",
    ["outcome"],
)
QUEUE_DEPTH = Gauge(
    "kefu_queue_depth",
    "Reply jobs not finished yet: queued, being sent or waiting for a retry.",
    multiprocess_mode="mostrecent",
)
QUEUE_OLDEST = Gauge(
    "kefu_queue_oldest_job_age_seconds",
    "Seconds since the oldest unfinished reply job was queued (0 when none).",
    multiprocess_mode="mostrecent",
)
DEAD_LETTERS = Gauge(
    "kefu_dead_letters",
    "Replies that finally failed and wait for an operator (kefu dead-letters).",
    multiprocess_mode="mostrecent",
)
SENDERS_RUNNING = Gauge(
    "kefu_senders_running",
    "Reply sender threads running, summed over the live processes.",
    multiprocess_mode="livesum",
)
