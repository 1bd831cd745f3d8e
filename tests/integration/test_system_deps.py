"""scripts/system-deps, which `make check` and `make test` run first: install what is missing, or
say in one line what to install. Run with a PATH of the test's own, so "missing" is chosen here
and apt-get, id, uname and sleep are stand-ins that record what the script asked of them."""

from __future__ import annotations

import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

import pytest

SCRIPT = Path(__file__).resolve().parents[2] / "scripts" / "system-deps"
BASICS = ("sh", "mktemp", "grep", "tail", "rm", "env", "cat", "chmod", "touch", "true")
# What apt-get "installs" here: the programs each package brings (the font shows in fc-list).
PROVIDES = {
    "redis-server": "redis-server",
    "chromium": "chromium",
    "chromium-driver": "chromedriver",
    "nginx": "nginx",
    "systemd": "systemd-analyze",
    "podman": "podman",
    "mmdebstrap": "mmdebstrap",
    "uidmap": "newuidmap",
    "slirp4netns": "slirp4netns",
    "fuse-overlayfs": "fuse-overlayfs",
    "runc": "runc",
    "wrk": "wrk",
}
EVERYTHING = ("redis-server", *sorted(set(PROVIDES.values()) - {"redis-server"}))
TEST_PACKAGES = [package for package in PROVIDES if package != "wrk"]  # wrk: make bench only


@dataclass(frozen=True)
class Host:
    """A bin folder that is the whole PATH, and the os-release the script reads."""

    bin: Path
    os_release: Path
    calls: Path

    def program(self, name: str, body: str = "exit 0") -> None:
        path = self.bin / name
        path.write_text(f"#!/bin/sh\n{body}\n", encoding="utf-8")
        path.chmod(0o755)

    def run(self, target: str, **env: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [str(SCRIPT), target],
            env={"PATH": str(self.bin), "OS_RELEASE": str(self.os_release), **env},
            capture_output=True,
            text=True,
            timeout=60,
        )

    def recorded(self) -> list[str]:
        if not self.calls.exists():
            return []
        return self.calls.read_text(encoding="utf-8").splitlines()


def fake_host(tmp_path: Path, system: str = "Linux", distribution: str = "debian") -> Host:
    host = Host(tmp_path / "bin", tmp_path / "os-release", tmp_path / "calls")
    host.bin.mkdir()
    for name in BASICS:
        found = shutil.which(name)
        assert found, name
        (host.bin / name).symlink_to(found)
    host.os_release.write_text(f"ID={distribution}\n", encoding="utf-8")
    host.program("uname", f"echo {system}")
    host.program("id", "echo 0")  # root: no sudo needed
    host.program("sleep", f'echo "sleep $*" >> {host.calls}')
    font = tmp_path / "font-installed"
    host.program("fc-list", f"[ -e {font} ] && echo 'wqy-microhei.ttc: WenQuanYi Micro Hei'; :")
    installs = "\n".join(
        f'    {package}) printf "#!/bin/sh\\n" > {host.bin}/{tool}; chmod +x {host.bin}/{tool} ;;'
        for package, tool in PROVIDES.items()
    )
    host.program(
        "apt-get",
        f"""echo "apt-get $*" >> {host.calls}
[ -e {tmp_path}/apt-fails ] && [ "$(cat {tmp_path}/apt-fails)" -gt 0 ] && {{
  echo $(( $(cat {tmp_path}/apt-fails) - 1 )) > {tmp_path}/apt-fails
  echo "E: Could not get lock /var/lib/dpkg/lock-frontend" >&2; exit 100; }}
for package in "$@"; do
  case $package in
{installs}
    fonts-wqy-microhei) touch {font} ;;
  esac
done""",
    )
    return host


def test_with_everything_there_it_says_nothing_and_installs_nothing(tmp_path: Path):
    host = fake_host(tmp_path)
    for tool in EVERYTHING:
        host.program(tool)
    (tmp_path / "font-installed").touch()
    done = host.run("test")
    assert (done.returncode, done.stdout, done.stderr) == (0, "", "")
    assert host.recorded() == []


def test_on_debian_as_root_make_check_installs_only_the_missing_redis(tmp_path: Path):
    host = fake_host(tmp_path)
    done = host.run("check")
    assert done.returncode == 0, done.stderr
    update, install = host.recorded()
    assert update.startswith("apt-get -qq") and update.endswith(" update")
    assert install.split(" install ")[1] == "redis-server"
    assert done.stderr == "make check: installing with apt-get: redis-server\n"


def test_on_debian_make_test_installs_every_missing_package_and_nothing_present(tmp_path: Path):
    host = fake_host(tmp_path)
    host.program("nginx")
    done = host.run("test")
    assert done.returncode == 0, done.stderr
    installed = host.recorded()[-1].split(" install ")[1].split()
    assert "nginx" not in installed
    assert sorted(installed) == sorted(
        ["fonts-wqy-microhei", *(p for p in TEST_PACKAGES if p != "nginx")]
    )
    assert "-y" in host.recorded()[-1] and "DPkg::Lock::Timeout=60" in host.recorded()[-1]


def test_on_ubuntu_chromium_comes_from_ubuntus_package_names(tmp_path: Path):
    host = fake_host(tmp_path, distribution="ubuntu")
    done = host.run("test", INSTALL_SYSTEM_DEPS="no")
    assert "apt-get install -y redis-server chromium-browser chromium-chromedriver " in done.stderr


def test_a_held_apt_lock_is_waited_out_and_tried_again(tmp_path: Path):
    host = fake_host(tmp_path)
    (tmp_path / "apt-fails").write_text("2", encoding="utf-8")
    done = host.run("check")
    assert done.returncode == 0, done.stderr
    assert host.recorded().count("sleep 10") == 2
    assert (host.bin / "redis-server").exists()


def test_an_apt_that_keeps_failing_stops_after_three_tries_with_its_last_lines(tmp_path: Path):
    host = fake_host(tmp_path)
    (tmp_path / "apt-fails").write_text("9", encoding="utf-8")
    done = host.run("check")
    assert done.returncode == 1
    assert "apt-get install redis-server failed three times" in done.stderr
    assert "Could not get lock" in done.stderr
    assert host.recorded().count("sleep 10") == 2


@pytest.mark.parametrize("why", ["not allowed to install", "not Debian"])
def test_when_it_cannot_install_it_stops_with_one_line_for_apt_and_homebrew(
    tmp_path: Path, why: str
):
    host = fake_host(tmp_path, distribution="fedora" if why == "not Debian" else "debian")
    host.program("nginx")
    env = {"INSTALL_SYSTEM_DEPS": "no"} if why == "not allowed to install" else {}
    done = host.run("test", **env)
    assert done.returncode == 1
    assert host.recorded() == []
    (line,) = done.stderr.splitlines()
    assert line.startswith("make test needs redis-server chromium chromedriver cjk-font ")
    apt = "sudo apt-get install -y redis-server chromium chromium-driver fonts-wqy-microhei "
    brew = "on macOS: brew install redis podman && brew install --cask chromium chromedriver"
    assert apt in line and brew in line
    assert " nginx" not in line


def test_on_macos_it_names_homebrew_formulas_and_what_only_linux_has(tmp_path: Path):
    host = fake_host(tmp_path, system="Darwin")
    host.os_release.unlink()
    done = host.run("test")
    assert done.returncode == 1
    (line,) = done.stderr.splitlines()
    macos = line.split("on macOS: ", 1)[1]
    assert macos == (
        "brew install redis nginx podman && brew install --cask chromium chromedriver; "
        "systemd-analyze mmdebstrap: Linux only (make check needs none of them)"
    )
    assert "cjk-font" not in line and "newuidmap" not in line  # macOS has both its own way


def test_make_check_asks_only_for_redis(tmp_path: Path):
    host = fake_host(tmp_path, system="Darwin")
    host.os_release.unlink()
    done = host.run("check")
    assert done.stderr == (
        "make check needs redis-server: on Debian/Ubuntu: sudo apt-get install -y redis-server; "
        "on macOS: brew install redis\n"
    )


def test_a_user_without_sudo_is_told_what_to_install(tmp_path: Path):
    host = fake_host(tmp_path)
    host.program("id", "echo 1000")
    done = host.run("check")
    assert done.returncode == 1
    assert done.stderr.startswith("make check needs redis-server: on Debian/Ubuntu: sudo apt-get")
    assert host.recorded() == []


def test_a_user_with_passwordless_sudo_installs_through_it(tmp_path: Path):
    host = fake_host(tmp_path)
    host.program("id", "echo 1000")
    host.program("sudo", f'echo "sudo $*" >> {host.calls}; [ "$1" = -n ] && shift; exec "$@"')
    done = host.run("check")
    assert done.returncode == 0, done.stderr
    calls = host.recorded()
    assert calls[0] == "sudo -n true"
    assert calls[-2].startswith("sudo -n env DEBIAN_FRONTEND=noninteractive apt-get -qq")
    assert calls[-2].endswith(" install redis-server")


def test_make_bench_installs_wrk_beside_redis(tmp_path: Path):
    host = fake_host(tmp_path)
    host.program("redis-server")
    done = host.run("bench")
    assert done.returncode == 0, done.stderr
    assert host.recorded()[-1].split(" install ")[1] == "wrk"
    assert (host.bin / "wrk").exists()


def test_make_bench_elsewhere_names_wrk_for_homebrew(tmp_path: Path):
    host = fake_host(tmp_path, system="Darwin", distribution="macos")
    host.program("redis-server")
    done = host.run("bench")
    assert done.returncode == 1
    assert done.stderr == (
        "make bench needs wrk: on Debian/Ubuntu: sudo apt-get install -y wrk;"
        " on macOS: brew install wrk\n"
    )
