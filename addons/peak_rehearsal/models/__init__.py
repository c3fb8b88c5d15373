from . import peak_rehearsal
from . import peak_rehearsal_jobs
