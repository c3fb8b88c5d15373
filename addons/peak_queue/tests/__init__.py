from . import test_housekeeping, test_lease_contract
