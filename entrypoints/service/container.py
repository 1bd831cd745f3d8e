"""The composition root: the one place that decides which adapter serves which port."""

from __future__ import annotations

import random
import time
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit

from dependency_injector import containers, providers

from adapters.logs.setup import configure_logging
from adapters.matching.cache import MatcherCache
from adapters.matching.e5 import E5Embeddings
from adapters.matching.hybrid import HybridMatcher
from adapters.media.files import FileMediaSource
from adapters.media.ids import UploadingMediaIds
from adapters.media.sources import MediaSources
from adapters.media.urls import HttpMediaSource
from adapters.metrics.ledger import CountingLedger
from adapters.metrics.queue_gauges import watch_queue
from adapters.queue.ordering import UserLeases
from adapters.queue.queue import HueyReplyQueue
from adapters.queue.reaper import Reaper
from adapters.rules.cms import HttpCmsRuleSource
from adapters.rules.file import FileRuleSource
from adapters.state.disk import DiskStateStore
from adapters.state.guard import GuardedStateStore
from adapters.state.locks import LockingStore
from adapters.state.redis import RedisStateStore
from adapters.state.scoped import ScopedStateStore
from adapters.stats.background import BackgroundHitStats, HitStore
from adapters.stats.disk import DiskHitStats
from adapters.stats.redis import RedisHitStats
from adapters.wechat_api.api_keys import load_api_keys
from adapters.wechat_api.client import RequestsWeChatApi
from adapters.wechat_api.security import ApiSecurity
from adapters.wechat_api.shared_tokens import SharedTokenCache
from adapters.wechat_push.gateway import WeChatPushGateway, replay_window
from adapters.wechat_push.keyring import KeyRing
from adapters.wechat_push.plaintext_binding import PlaintextBinding
from adapters.wechat_push.previous_use import PreviousUseLog
from domain.answering import AnswerMessage
from domain.delivery import DeliverReplies
from domain.dispatch import DeliverNow, Enqueue
from domain.late_answering import AnswerWhenRulesArrive
from domain.ledger import CLAIM_TTL
from domain.ports import HitStats, StateStore
from domain.retry import RetryPolicy
from domain.sending import SendQueuedReplies
from domain.similar_answering import AnswerQuestion
from domain.stats import NoHitStats
from entrypoints.service.queue_readiness import OLDEST_LIMIT, QueueReadiness
from entrypoints.service.readiness import Readiness
from entrypoints.service.senders import (
    open_holding_queue,
    open_queue_stores,
    queue_to_submit,
    run_mover,
    run_senders,
)
from entrypoints.service.settings import RulesSettings, Settings

RuleSourceAdapter = HttpCmsRuleSource | FileRuleSource


def open_state_store(settings: Settings) -> Iterator[LockingStore]:
    """The shared state: Redis when several hosts share it, else KEFU_STATE_DIR; closed at exit."""
    store: DiskStateStore | RedisStateStore
    if settings.redis_url:
        store = RedisStateStore(settings.redis_url)
    else:
        store = DiskStateStore(settings.state_dir)
    try:
        yield store
    finally:
        store.close()


def serve_rules(source: RuleSourceAdapter, wait: bool) -> Iterator[RuleSourceAdapter]:
    """The rules loaded once per process (the first fetch waited for with `wait`, else behind);
    a CMS watcher keeps them fresh until shutdown."""
    source.load(wait=wait)
    try:
        yield source
    finally:
        if isinstance(source, HttpCmsRuleSource):
            source.close()


def count_hits(store: HitStore, enabled: bool) -> Iterator[HitStats]:
    """Hits counted off the push's path by a thread per process; the queue is stored at exit."""
    if not enabled:
        yield store
        return
    counting = BackgroundHitStats(store)
    try:
        yield counting
    finally:
        counting.close()


def _rules_kind(settings: RulesSettings) -> str:
    return "cms" if settings.rules_url else "file"


def _api_security(settings: Settings, answers: StateStore) -> ApiSecurity | None:
    mode = settings.api_security
    if mode is None:
        return None
    keys = load_api_keys(
        mode.aes_key, mode.aes_sn, mode.rsa_key_file, mode.rsa_sn, mode.cert_file, mode.cert_sn
    )
    return ApiSecurity(settings.appid, keys, answers=answers)


def _stats_kind(settings: Settings) -> str:
    if not settings.stats:
        return "off"
    return "redis" if settings.redis_url else "disk"


def _stats_dir(settings: Settings) -> Path:
    return settings.state_dir / "stats"


def _store_name(settings: Settings) -> str:
    """The state store as readiness names it: host and port only, the URL may carry a password."""
    if settings.redis_url:
        parts = urlsplit(settings.redis_url)
        return f"Redis at {parts.hostname}:{parts.port or 6379}"
    return f"KEFU_STATE_DIR {settings.state_dir}"


def _previous_settings(settings: Settings) -> tuple[str, ...]:
    named = {
        "KEFU_TOKEN_PREVIOUS": settings.token_previous,
        "KEFU_ENCODING_AES_KEY_PREVIOUS": settings.encoding_aes_key_previous,
    }
    return tuple(name for name, value in named.items() if value)


def _claim_ttl(settings: Settings) -> float:
    # Claims must outlive the replay window, or a replayed push could be handled twice.
    return max(CLAIM_TTL, 2.0 * replay_window(settings.max_clock_skew))


def _saved_rules_dir(settings: Settings) -> Path:
    # Scoped like the state keys: another mini program's saved copy never stands in for ours.
    return settings.state_dir / "rules" / settings.appid


class RulesContainer(containers.DeclarativeContainer):
    """The rule sources and the files rules name: all `kefu rules` needs, no WeChat settings."""

    settings = providers.Dependency(instance_of=RulesSettings)
    # Where the CMS copy last accepted is saved; none for a one-off check.
    saved_dir: providers.Provider[Path | None] = providers.Object(None)

    media_files = providers.Singleton(FileMediaSource, root=settings.provided.media_root)
    # Similar questions: one model per process, one matcher per rules version, shared by the
    # process's threads (in the service, the senders: matching never runs on the ack path).
    embeddings = providers.Singleton(E5Embeddings)
    matchers = providers.Singleton(
        MatcherCache, build=providers.Factory(HybridMatcher, embeddings=embeddings).provider
    )
    # A new source per call: the service keeps one (`Container.rules`), the CLI checks once.
    source = providers.Selector(
        providers.Callable(_rules_kind, settings),
        cms=providers.Factory(
            HttpCmsRuleSource,
            url=settings.provided.rules_url,
            ttl=settings.provided.rules_ttl,
            state_dir=saved_dir,
            check_image=media_files.provided.containment_problem,
            keep_fresh=True,
            headers=settings.provided.rules_headers,
        ),
        file=providers.Factory(
            FileRuleSource,
            path=settings.provided.rules_file,
            ttl=settings.provided.rules_ttl,
            check_image=media_files.provided.containment_problem,
        ),
    )


class Container(containers.DeclarativeContainer):
    settings = providers.Dependency(instance_of=Settings)

    # Lifetimes: started by the entry point (init_resources), stopped at exit (shutdown_resources).
    logging = providers.Resource(
        configure_logging,
        level=settings.provided.log_level,
        secrets=settings.provided.secrets,
        log_format=settings.provided.log_format,
    )
    state_backend = providers.Resource(open_state_store, settings=settings)

    # Shared state: every key scoped by AppID, every failure handled by the guard.
    state = providers.Singleton(
        GuardedStateStore,
        store=providers.Singleton(
            ScopedStateStore, store=state_backend, scope=settings.provided.appid
        ),
    )
    claim_ttl = providers.Callable(_claim_ttl, settings)
    ledger = providers.Singleton(CountingLedger, store=state, ttl=claim_ttl)

    # The push protocol
    crypto = providers.Singleton(
        KeyRing,
        token=settings.provided.token,
        encoding_aes_key=settings.provided.encoding_aes_key,
        appid=settings.provided.appid,
        previous_token=settings.provided.token_previous,
        previous_key=settings.provided.encoding_aes_key_previous,
        on_previous=providers.Singleton(PreviousUseLog, store=state),
        previous_until=settings.provided.rotation_until,
    )
    push_gateway = providers.Singleton(
        WeChatPushGateway,
        crypto=crypto,
        max_clock_skew=settings.provided.max_clock_skew,
        plaintext_binding=providers.Singleton(PlaintextBinding, store=state, ttl=claim_ttl),
    )

    # The rules in service, from the CMS or a file, and the files they name
    rules_parts = providers.Container(
        RulesContainer,
        settings=settings.provided.rules_settings,
        saved_dir=providers.Callable(_saved_rules_dir, settings),
    )
    # A worker starts without waiting for the CMS (pushes wait for the rules in the queue);
    # commands that report on the rules once (`kefu status`, the preview) wait for them.
    rules_wait = providers.Object(False)
    rules = providers.Resource(serve_rules, source=rules_parts.source, wait=rules_wait)

    # WeChat's server API and the media it needs
    wechat_api = providers.Singleton(
        RequestsWeChatApi,
        appid=settings.provided.appid,
        appsecret=settings.provided.appsecret,
        base_url=settings.provided.wechat_api_base,
        tokens=providers.Singleton(SharedTokenCache, store=state),
        security=providers.Singleton(_api_security, settings, answers=state),
    )
    media_sources = providers.Singleton(
        MediaSources,
        files=rules_parts.media_files,
        web=providers.Singleton(HttpMediaSource, allow_hosts=settings.provided.media_allow_hosts),
    )
    media_ids = providers.Singleton(
        UploadingMediaIds, source=media_sources, uploader=wechat_api, store=state
    )

    # Hit statistics (KEFU_STATS), beside the shared state, scoped by AppID like it; counted off
    # the push's path.
    stats_store = providers.Selector(
        providers.Callable(_stats_kind, settings),
        off=providers.Singleton(NoHitStats),
        disk=providers.Singleton(
            DiskHitStats,
            directory=providers.Callable(_stats_dir, settings),
            namespace=settings.provided.appid,
        ),
        redis=providers.Singleton(
            RedisHitStats, namespace=settings.provided.appid, url=settings.provided.redis_url
        ),
    )
    hit_stats = providers.Resource(count_hits, store=stats_store, enabled=settings.provided.stats)

    # Use cases
    questions = providers.Singleton(
        AnswerQuestion, rules=rules, matchers=rules_parts.matchers, ledger=ledger, stats=hit_stats
    )
    late_answers = providers.Singleton(
        AnswerWhenRulesArrive, rules=rules, ledger=ledger, then=questions, stats=hit_stats
    )
    deliver = providers.Factory(
        DeliverReplies,
        media=media_ids,
        messenger=wechat_api,
        ledger=ledger,
        clock=providers.Object(time.time),
        complete=late_answers,
    )
    deliver_now = providers.Singleton(DeliverNow, deliver=deliver)

    # The reply queue: jobs journalled and queued durably, sent by sender threads in every
    # gunicorn worker (KEFU_SENDERS each) and in `kefu worker`, retried, dead-lettered.
    queue_stores = providers.Resource(open_queue_stores, settings=settings)
    send_queued = providers.Singleton(
        SendQueuedReplies,
        deliver=deliver,
        policy=providers.Singleton(
            RetryPolicy, jitter=random.random, deadline=settings.provided.reply_deadline
        ),
        clock=time.time,
    )
    user_leases = providers.Singleton(UserLeases, store=state)
    reply_queue = providers.Singleton(
        HueyReplyQueue,
        stores=queue_stores,
        send=send_queued,
        leases=user_leases,
        on_retry=ledger.provided.forget_uncertain,
    )
    reaper = providers.Singleton(Reaper, queue=reply_queue, claims=state)
    sender_count = providers.Callable(lambda settings: settings.senders, settings)
    senders = providers.Resource(run_senders, queue=reply_queue, reaper=reaper, count=sender_count)
    # With Redis, a job Redis cannot take waits in this host's SQLite and moves on later.
    holding_queue = providers.Singleton(
        open_holding_queue, settings=settings, send=send_queued, leases=user_leases
    )
    submit_queue = providers.Singleton(queue_to_submit, shared=reply_queue, holding=holding_queue)
    held_mover = providers.Resource(run_mover, queue=submit_queue)
    dispatcher = providers.Singleton(Enqueue, queue=submit_queue)
    answer = providers.Factory(
        AnswerMessage, rules=rules, dispatcher=dispatcher, ledger=ledger, stats=hit_stats
    )

    # Whether pushes can be taken and answered now (/readyz, kefu status)
    queue_age_limit = providers.Object(OLDEST_LIMIT)
    readiness = providers.Singleton(
        Readiness,
        rules=rules,
        state=state,
        store_name=providers.Callable(_store_name, settings),
        check_token=wechat_api.provided.check_token,
        previous=providers.Callable(_previous_settings, settings),
        previous_until=settings.provided.rotation_until,
        more=providers.Singleton(
            QueueReadiness,
            queue=reply_queue,
            senders=senders,
            configured=sender_count,
            dispatcher=dispatcher,
            local=holding_queue,
            limit=queue_age_limit,
        ),
    )
    queue_gauges = providers.Resource(watch_queue, queue=reply_queue, senders=senders)
