from . import test_fulfillment_window, test_peak_mode, test_readiness, test_tour
