"Shared by every test file: a free port on loopback (the one helper of the package's plumbing)."
import pytest

from digit_course.core import free_port


@pytest.fixture
def port() -> int:
    "A TCP port free on 127.0.0.1 now, for a server the test starts next."
    return free_port()


@pytest.fixture(scope='module')
def module_port() -> int:
    "A free loopback port for a server that a whole test module shares (a module-scoped fixture cannot use `port`)."
    return free_port()
