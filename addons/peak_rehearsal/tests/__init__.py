from . import test_rehearsal
