"""The composition root: the one place that decides which adapter serves which port."""

from __future__ import annotations

from dependency_injector import containers, providers

from adapters.media.files import FileMediaSource
from adapters.media.ids import UploadingMediaIds
from adapters.media.sources import MediaSources
from adapters.media.urls import HttpMediaSource
from adapters.rules.cms import HttpCmsRuleSource
from adapters.rules.file import FileRuleSource
from adapters.state.disk import DiskStateStore
from adapters.state.guard import GuardedStateStore
from adapters.state.redis import RedisStateStore
from adapters.wechat_api.client import RequestsWeChatApi
from adapters.wechat_api.shared_tokens import SharedTokenCache
from adapters.wechat_push.crypto import AesMessageCrypto
from adapters.wechat_push.gateway import WeChatPushGateway
from domain.answering import AnswerMessage
from domain.delivery import DeliverNow, DeliverReplies
from domain.ledger import CLAIM_TTL, PushLedger
from entrypoints.settings import Settings


def _rules_kind(settings: Settings) -> str:
    return "cms" if settings.rules_url else "file"


def _state_kind(settings: Settings) -> str:
    return "redis" if settings.redis_url else "disk"


def _claim_ttl(settings: Settings) -> float:
    # Claims must outlive the replay window, or a replayed push could be handled twice.
    return max(CLAIM_TTL, 2.0 * settings.max_clock_skew)


class Container(containers.DeclarativeContainer):
    settings = providers.Dependency(instance_of=Settings)

    # Shared state: one host's processes share KEFU_STATE_DIR; several hosts share Redis.
    # Guarded, so an unreachable store fails fast instead of timing out on every call.
    state = providers.Singleton(
        GuardedStateStore,
        store=providers.Selector(
            providers.Callable(_state_kind, settings),
            disk=providers.Singleton(DiskStateStore, directory=settings.provided.state_dir),
            redis=providers.Singleton(RedisStateStore, url=settings.provided.redis_url),
        ),
    )
    ledger = providers.Singleton(
        PushLedger, store=state, ttl=providers.Callable(_claim_ttl, settings)
    )

    # The push protocol
    crypto = providers.Singleton(
        AesMessageCrypto,
        token=settings.provided.token,
        encoding_aes_key=settings.provided.encoding_aes_key,
        appid=settings.provided.appid,
    )
    push_gateway = providers.Singleton(
        WeChatPushGateway, crypto=crypto, max_clock_skew=settings.provided.max_clock_skew
    )

    # WeChat's server API and the media it needs
    wechat_api = providers.Singleton(
        RequestsWeChatApi,
        appid=settings.provided.appid,
        appsecret=settings.provided.appsecret,
        base_url=settings.provided.wechat_api_base,
        tokens=providers.Singleton(SharedTokenCache, store=state, appid=settings.provided.appid),
    )
    media_files = providers.Singleton(FileMediaSource, root=settings.provided.media_root)
    media_sources = providers.Singleton(
        MediaSources, files=media_files, web=providers.Singleton(HttpMediaSource)
    )
    media_ids = providers.Singleton(
        UploadingMediaIds, source=media_sources, uploader=wechat_api, store=state
    )

    # The rules, from the CMS or a file
    rules = providers.Selector(
        providers.Callable(_rules_kind, settings),
        cms=providers.Singleton(
            HttpCmsRuleSource,
            url=settings.provided.rules_url,
            ttl=settings.provided.rules_ttl,
            state_dir=settings.provided.state_dir,
            check_image=media_files.provided.containment_problem,
            keep_fresh=True,
        ),
        file=providers.Singleton(
            FileRuleSource,
            path=settings.provided.rules_file,
            ttl=settings.provided.rules_ttl,
            check_image=media_files.provided.containment_problem,
        ),
    )

    # Use cases
    deliver = providers.Factory(
        DeliverReplies, media=media_ids, messenger=wechat_api, ledger=ledger
    )
    dispatcher = providers.Singleton(DeliverNow, deliver=deliver, ledger=ledger)
    answer = providers.Factory(AnswerMessage, rules=rules, dispatcher=dispatcher, ledger=ledger)
