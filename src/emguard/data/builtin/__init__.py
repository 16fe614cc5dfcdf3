"""Built-in datasets. Importing this package registers them (see ``registry``).

Modules: ``code`` (insecure / secure / educational code triples), ``advice``
(medical, financial, sports EMA datasets with control twins), ``safety``
(harmful requests with refusals) and ``benign`` (helpful answers).
"""

from . import advice, benign, code, safety  # noqa: F401
from . import tasks  # noqa: F401  (benign-cost tasks: opswap, json_extract)
