"""FileMediaSource against real files under tmp_path."""

from __future__ import annotations

from pathlib import Path

import pytest

from adapters.media.files import FileMediaSource, MediaOutsideRoot
from adapters.media.types import MediaTooLarge, NotAnImage
from domain.errors import MediaUnavailable
from domain.replies import ImageRef, MediaFile
from domain.reply_parsing import ImageCheck
from tests.documents import parse_with_re2

PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 32
JPEG = b"\xff\xd8\xff\xe0" + b"\x00" * 32


@pytest.fixture
def root(tmp_path: Path) -> Path:
    media = tmp_path / "media"
    (media / "cms").mkdir(parents=True)
    (media / "cms" / "poster02.png").write_bytes(PNG)
    (tmp_path / "secret.png").write_bytes(PNG)
    return media


def test_a_rules_path_with_a_leading_slash_is_read_under_the_root(root: Path) -> None:
    media = FileMediaSource(root).load(ImageRef("/cms/poster02.png"))
    assert media == MediaFile("poster02.png", "image/png", PNG)


def test_a_relative_rules_path_is_read_under_the_root_too(root: Path) -> None:
    assert FileMediaSource(root).load(ImageRef("cms/poster02.png")).data == PNG


@pytest.mark.parametrize(
    "path",
    ["../secret.png", "/cms/../../secret.png", "cms/../../secret.png", "/../secret.png"],
)
def test_paths_that_climb_out_of_the_root_are_refused(root: Path, path: str) -> None:
    with pytest.raises(MediaOutsideRoot) as refused:
        FileMediaSource(root).load(ImageRef(path))
    assert str(refused.value.reason) == "path leaves the media root"


def test_an_absolute_system_path_stays_inside_the_root(root: Path) -> None:
    with pytest.raises(MediaUnavailable) as missing:
        FileMediaSource(root).load(ImageRef("/etc/passwd"))
    assert str(missing.value.reason) == f"no such file under the media root {root.resolve()}"


def test_a_symlink_pointing_out_of_the_root_is_refused(root: Path) -> None:
    (root / "cms" / "sneaky.png").symlink_to(root.parent / "secret.png")
    with pytest.raises(MediaOutsideRoot):
        FileMediaSource(root).load(ImageRef("/cms/sneaky.png"))


def test_a_symlinked_directory_out_of_the_root_is_refused(root: Path) -> None:
    (root / "outside").symlink_to(root.parent)
    with pytest.raises(MediaOutsideRoot):
        FileMediaSource(root).load(ImageRef("/outside/secret.png"))


def test_a_symlink_that_stays_inside_the_root_is_followed(root: Path) -> None:
    (root / "latest.png").symlink_to(root / "cms" / "poster02.png")
    assert FileMediaSource(root).load(ImageRef("latest.png")).data == PNG


def test_a_path_with_a_nul_byte_is_refused(root: Path) -> None:
    with pytest.raises(MediaOutsideRoot):
        FileMediaSource(root).load(ImageRef("cms/poster02.png\x00.jpg"))


def test_a_root_given_through_a_symlink_still_serves_its_files(root: Path) -> None:
    alias = root.parent / "alias"
    alias.symlink_to(root)
    assert FileMediaSource(alias).load(ImageRef("/cms/poster02.png")).data == PNG


def test_a_missing_file_says_so_and_names_the_folder_searched(root: Path) -> None:
    with pytest.raises(MediaUnavailable) as missing:
        FileMediaSource(root).load(ImageRef("/cms/nope.png"))
    assert str(missing.value.reason) == f"no such file under the media root {root.resolve()}"


def test_a_directory_is_not_an_image(root: Path) -> None:
    with pytest.raises(MediaUnavailable) as refused:
        FileMediaSource(root).load(ImageRef("/cms"))
    assert str(refused.value.reason) == "not a file"


def test_a_file_over_the_size_cap_is_refused(root: Path) -> None:
    (root / "big.png").write_bytes(PNG + b"\x00" * 100)
    with pytest.raises(MediaTooLarge) as refused:
        FileMediaSource(root, max_bytes=100).load(ImageRef("big.png"))
    assert refused.value.size == len(PNG) + 100
    assert "100-byte limit" in str(refused.value.reason)


def test_the_default_cap_is_two_mebibytes(root: Path) -> None:
    (root / "huge.jpg").write_bytes(JPEG + b"\x00" * (2 * 1024 * 1024))
    (root / "fits.jpg").write_bytes(JPEG + b"\x00" * (2 * 1024 * 1024 - len(JPEG)))
    source = FileMediaSource(root)
    with pytest.raises(MediaTooLarge):
        source.load(ImageRef("huge.jpg"))
    assert source.load(ImageRef("fits.jpg")).content_type == "image/jpeg"


def test_a_text_file_with_an_image_name_is_refused(root: Path) -> None:
    (root / "oops.png").write_text("<html>not found</html>")
    with pytest.raises(NotAnImage):
        FileMediaSource(root).load(ImageRef("oops.png"))


def test_the_bytes_decide_the_type_and_the_filename_follows(root: Path) -> None:
    (root / "photo.png").write_bytes(JPEG)
    (root / "banner").write_bytes(PNG)
    source = FileMediaSource(root)
    assert source.load(ImageRef("photo.png")).filename == "photo.jpg"
    assert source.load(ImageRef("banner")) == MediaFile("banner.png", "image/png", PNG)


def test_a_png_named_jpg_is_uploaded_as_a_png(root: Path) -> None:
    (root / "poster.jpg").write_bytes(PNG)
    media = FileMediaSource(root).load(ImageRef("poster.jpg"))
    assert media == MediaFile("poster.png", "image/png", PNG)


@pytest.mark.parametrize(
    ("name", "data"),
    [
        ("tool.jpg", b"\x7fELF\x02\x01\x01\x00" + b"\x00" * 56),
        ("pic.webp", b"RIFF\x00\x00\x00\x00WEBPVP8 "),
        ("scan.bmp", b"BM" + b"\x00" * 40),
    ],
)
def test_a_file_its_bytes_do_not_prove_an_image_is_refused_whatever_its_name(
    root: Path, name: str, data: bytes
) -> None:
    (root / name).write_bytes(data)
    with pytest.raises(NotAnImage) as refused:
        FileMediaSource(root).load(ImageRef(name))
    assert str(refused.value.reason) == f"not an image ({len(data)} bytes; JPEG, PNG or GIF only)"


def test_problem_with_names_what_an_editor_must_fix(root: Path) -> None:
    (root / "big.png").write_bytes(PNG * 10)
    source = FileMediaSource(root, max_bytes=100)
    assert source.problem_with(ImageRef("/cms/poster02.png")) is None
    assert str(source.problem_with(ImageRef("../secret.png"))) == "path leaves the media root"
    gone = f"no such file under the media root {root.resolve()}"
    assert str(source.problem_with(ImageRef("/cms/gone.png"))) == gone
    assert "100-byte limit" in str(source.problem_with(ImageRef("big.png")))


def test_problem_with_leaves_urls_alone(root: Path) -> None:
    url = ImageRef("https://example.com/cms/poster.jpg")
    assert FileMediaSource(root).problem_with(url) is None


def test_rules_naming_a_path_outside_the_root_are_reported_by_key(root: Path) -> None:
    check: ImageCheck = FileMediaSource(root).problem_with
    document = {
        "3": {"type": "image", "url": "/cms/poster02.png"},
        "4": {"type": "image", "url": "/../secret.png"},
    }
    parsed = parse_with_re2(document, check)
    assert [(p.key, str(p.problem)) for p in parsed.problems] == [
        ("4", "path leaves the media root")
    ]


def test_live_rule_checks_only_refuse_paths_that_leave_the_root(root: Path) -> None:
    source = FileMediaSource(root)
    assert source.containment_problem(ImageRef("/cms/not-yet-uploaded.png")) is None
    assert (
        str(source.containment_problem(ImageRef("/cms/../../etc/passwd")))
        == "path leaves the media root"
    )
    assert source.containment_problem(ImageRef("https://example.com/a.png")) is None
