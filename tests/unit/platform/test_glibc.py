"""glibc needs: the floor, the policy against min-glibc, the trailer's bitmap, uv's platform."""

import pytest

from onefile_backend._errors import ConfigError


def test_glibc_needs_floor_policy_and_trailer_bits():
    from onefile_backend.platform.glibc import GlibcNeeds, bitmap_versions, check_floor, trailer_bitmap, uv_platform

    needs = GlibcNeeds.of(
        {"runtime/bin/python3": [(2, 2, 5), (2, 17)], "runtime/lib/libcrypt.so.1": [(2, 36), (2, 25)]}
    )
    needs += GlibcNeeds.of({"app/lib/x.so": [(2, 28)], "app/lib/none.so": []})
    assert needs.floor() == (2, 36) and needs.set_by() == "runtime/lib/libcrypt.so.1"
    assert needs.versions() == ((2, 2, 5), (2, 17), (2, 25), (2, 28), (2, 36))
    assert GlibcNeeds.from_json(needs.to_json()) == needs
    assert bitmap_versions(trailer_bitmap(needs.versions())) == ((2, 2), (2, 17), (2, 25), (2, 28), (2, 36))
    check_floor(needs, (2, 36))
    with pytest.raises(ConfigError) as raised:
        check_floor(needs, (2, 27))
    assert str(raised.value) == (
        "tool.onefile.min-glibc: the binary would need a newer glibc than 2.27: runtime/lib/libcrypt.so.1 needs 2.36, "
        "app/lib/x.so needs 2.28 (use a runtime built for older systems, e.g. a python-build-standalone one, or raise min-glibc)"
    )
    assert uv_platform("x86_64", (2, 30)) == "x86_64-manylinux_2_28"
    assert uv_platform("aarch64", (2, 31)) == "aarch64-manylinux_2_31"
    assert uv_platform("x86_64", (2, 17)) == "x86_64-manylinux_2_17"
