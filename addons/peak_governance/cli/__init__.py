from . import peak_sync_windows
