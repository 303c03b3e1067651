"""Importers of other tools' logs (VW DSJson, the Open Bandit Dataset, obp dicts) and exports
back to them; every import writes a bandits log through :class:`~bandits.logs.LogWriter`."""

from bandits.logs.importers.dsjson import import_dsjson
from bandits.logs.importers.dsjson_export import export_dsjson
from bandits.logs.importers.obd import import_obd
from bandits.logs.importers.obp import from_obp, to_obp
from bandits.logs.importers.rows import ImportSummary

__all__ = ["ImportSummary", "export_dsjson", "from_obp", "import_dsjson", "import_obd", "to_obp"]
