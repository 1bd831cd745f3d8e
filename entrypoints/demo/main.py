"""`kefu demo`: sandbox, example rules, kefu under gunicorn on this machine, a scripted chat."""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import os
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import TextIO

from entrypoints.cli.gunicorn_process import LOCALHOST, KefuDidNotStart, KefuUnderGunicorn
from entrypoints.cli.push_poster import PushPoster
from entrypoints.cli.push_simulator import PushSimulator
from entrypoints.cli.shipped import CONFIG, EXAMPLE_RULES
from entrypoints.cli.simulate import DEMO_OPENID
from entrypoints.demo.conversation import SCRIPT, Conversation
from entrypoints.demo.services import StaticFiles, Throwaway, interrupts, uninterruptible
from entrypoints.sandbox.main import serve_sandbox

HELP = "the whole flow on this machine with nothing to configure, printed as a transcript"
DESCRIPTION = (
    f"{HELP}: a local WeChat sandbox, kefu with the example rules, and a scripted chat. "
    "Settings it reads: none (it sets up its own, in a temporary folder)."
)
MEDIA_ROOT = CONFIG
RULES = EXAMPLE_RULES
# The contract's rule "2" names a web image: the demo serves it on 127.0.0.1, so kefu downloads it.
DOWNLOADED = "2"


def add_command(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """`kefu demo`: no arguments, and no settings read."""
    subparsers.add_parser("demo", help=HELP, description=DESCRIPTION).set_defaults(run=run)


def run(args: argparse.Namespace, out: TextIO = sys.stdout) -> int:
    """0 after the chat, also when interrupted; 1 when kefu did not start or a push failed."""
    _tolerate_unprintable(out)
    stack = contextlib.ExitStack()
    try:
        with interrupts():
            return _play(stack, out)
    except KeyboardInterrupt:
        print("\ninterrupted: shutting everything down", file=out, flush=True)
        return 0
    except BrokenPipeError:
        _stop_writing(out)  # `kefu demo | head`: the reader left, so stop as on Ctrl-C
        return 0
    except KefuDidNotStart as failure:
        print(f"kefu demo: {failure.reason}; its last log lines:\n{failure.log}", file=sys.stderr)
        return 1
    finally:
        with uninterruptible():
            stack.close()


@dataclass(frozen=True)
class Stage:
    """Everything the demo started, once it is all running."""

    credentials: Throwaway
    sandbox_url: str
    images_url: str
    downloaded: str  # the URL kefu downloads rule DOWNLOADED's image from
    kefu: KefuUnderGunicorn

    @property
    def callback(self) -> str:
        return f"{self.kefu.url}/wechat/callback"


def _play(stack: contextlib.ExitStack, out: TextIO) -> int:
    stage = _set_up(stack)
    _header(stage, out)
    stage.kefu.wait_until_healthy()
    credentials = stage.credentials
    simulator = PushSimulator(credentials.token, credentials.appid, credentials.encoding_aes_key)
    poster = PushPoster(stage.callback)
    conversation = Conversation(simulator, poster, stage.sandbox_url, out, openid=DEMO_OPENID)
    failed = conversation.play(SCRIPT)
    answered = f"{len(SCRIPT) - failed} of {len(SCRIPT)} pushes answered 200"
    print(f"\n{answered}; shutting everything down", file=out, flush=True)
    return 1 if failed else 0


def _set_up(stack: contextlib.ExitStack) -> Stage:
    """Start everything, each piece's stop registered before the piece starts."""
    folder = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="kefu-demo-")))
    credentials = Throwaway.generate()
    sandbox = serve_sandbox(LOCALHOST, 0, credentials.appid, credentials.appsecret)
    stack.callback(sandbox.stop)
    images = StaticFiles(MEDIA_ROOT)
    stack.callback(images.stop)
    rules, downloaded = _rules_with_web_image(folder, images.url)
    kefu = KefuUnderGunicorn(_settings(credentials, sandbox.url, rules, folder), folder / "log")
    stack.callback(kefu.stop)
    kefu.start()
    return Stage(credentials, sandbox.url, images.url, downloaded, kefu)


def _header(stage: Stage, out: TextIO) -> None:
    lines = (
        "kefu demo: a signed and encrypted chat through the real kefu, on this machine only",
        f"  WeChat sandbox  {stage.sandbox_url}",
        f"  image host      {stage.images_url}  (serves {MEDIA_ROOT})",
        f"                  kefu downloads rule {DOWNLOADED}'s image from {stage.downloaded}",
        f"  kefu            {stage.callback}  (gunicorn, pid {stage.kefu.pid})",
        f"  metrics         {stage.kefu.metrics_url}",
        f"  rules           {RULES}, images in {MEDIA_ROOT / 'demo'}",
        "  pushes          safe mode (AES), JSON, with a throwaway AppID, Token and key",
    )
    print("\n".join(lines), file=out, flush=True)


def _rules_with_web_image(folder: Path, host: str) -> tuple[Path, str]:
    """A copy of the example rules in which rule DOWNLOADED's image path is a URL on host."""
    document = json.loads(RULES.read_text(encoding="utf-8"))
    rule = document[DOWNLOADED]
    rule["url"] = url = f"{host}/{rule['url'].lstrip('/')}"
    copy = folder / "rules.json"
    copy.write_text(json.dumps(document, ensure_ascii=False), encoding="utf-8")
    return copy, url


def _settings(
    credentials: Throwaway, sandbox_url: str, rules: Path, folder: Path
) -> dict[str, str]:
    return {
        "KEFU_TOKEN": credentials.token,
        "KEFU_ENCODING_AES_KEY": credentials.encoding_aes_key,
        "KEFU_APPID": credentials.appid,
        "KEFU_APPSECRET": credentials.appsecret,
        "KEFU_RULES_FILE": str(rules),
        "KEFU_MEDIA_ROOT": str(MEDIA_ROOT),
        "KEFU_WECHAT_API_BASE": sandbox_url,
        "KEFU_STATE_DIR": str(folder / "state"),
        # The demo's image host is on loopback, which image URLs may reach only when listed.
        "KEFU_MEDIA_ALLOW_HOSTS": LOCALHOST,
    }


def _tolerate_unprintable(out: TextIO) -> None:
    # A terminal that cannot show Chinese still gets a readable transcript.
    if isinstance(out, io.TextIOWrapper):
        out.reconfigure(errors="backslashreplace")


def _stop_writing(out: TextIO) -> None:
    # Python flushes stdout once more at exit; into a closed pipe that would print an error.
    with contextlib.suppress(OSError, ValueError, io.UnsupportedOperation):
        os.dup2(os.open(os.devnull, os.O_WRONLY), out.fileno())
