# The pytest sample: each outcome pytest can report, and one test that fails once and then
# passes under pytest-rerunfailures (--reruns 1).
import pytest

_flaky_calls = {"n": 0}


def test_passes():
    assert True


def test_fails():
    assert 1 == 2, "one is not two"


def test_errors_in_fixture(broken_fixture):
    assert True


@pytest.fixture
def broken_fixture():
    raise RuntimeError("fixture broke")


@pytest.mark.skip(reason="not on this machine")
def test_skipped():
    assert True


@pytest.mark.xfail(reason="known bug")
def test_xfails():
    assert False


@pytest.mark.xfail(reason="fixed already")
def test_xpasses():
    assert True


def test_flaky_then_passes():
    _flaky_calls["n"] += 1
    assert _flaky_calls["n"] > 1, "first attempt fails"


class TestGroup:
    @pytest.mark.parametrize("n", [1, 2, 3])
    def test_param(self, n):
        assert n < 3
