"""The composition root: the one place that decides which adapter serves which port."""

from __future__ import annotations

from dependency_injector import containers, providers

from adapters.media_files import FileMediaSource
from adapters.media_ids import UploadingMediaIds
from adapters.media_sources import MediaSources
from adapters.media_urls import HttpMediaSource
from adapters.rules_cms import HttpCmsRuleSource
from adapters.rules_file import FileRuleSource
from adapters.wechat_api import RequestsWeChatApi
from adapters.wechat_crypto import AesMessageCrypto
from adapters.wechat_push import WeChatPushGateway
from domain.answering import AnswerMessage
from domain.delivery import DeliverNow, DeliverReplies
from entrypoints.settings import Settings


def _rules_kind(settings: Settings) -> str:
    return "cms" if settings.rules_url else "file"


class Container(containers.DeclarativeContainer):
    settings = providers.Dependency(instance_of=Settings)

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
    )
    media_files = providers.Singleton(FileMediaSource, root=settings.provided.media_root)
    media_sources = providers.Singleton(
        MediaSources, files=media_files, web=providers.Singleton(HttpMediaSource)
    )
    media_ids = providers.Singleton(UploadingMediaIds, source=media_sources, uploader=wechat_api)

    # The rules, from the CMS or a file
    rules = providers.Selector(
        providers.Callable(_rules_kind, settings),
        cms=providers.Singleton(
            HttpCmsRuleSource,
            url=settings.provided.rules_url,
            ttl=settings.provided.rules_ttl,
            state_dir=settings.provided.state_dir,
            check_image=media_files.provided.containment_problem,
        ),
        file=providers.Singleton(
            FileRuleSource,
            path=settings.provided.rules_file,
            ttl=settings.provided.rules_ttl,
            check_image=media_files.provided.containment_problem,
        ),
    )

    # Use cases
    deliver = providers.Factory(DeliverReplies, media=media_ids, messenger=wechat_api)
    dispatcher = providers.Singleton(DeliverNow, deliver=deliver)
    answer = providers.Factory(AnswerMessage, rules=rules, dispatcher=dispatcher)
