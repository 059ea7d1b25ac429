"""DVC's files read as plain data, at any revision, without importing DVC: the fast path of the
gate, the hooks and the registry. One module per file DVC writes:

- ``paths``: the files' names, and paths as DVC writes them;
- ``yaml12``: YAML 1.2 as DVC's ruamel reads it, with bounds on aliases;
- ``params``: params and metrics files (YAML, JSON, TOML, Python);
- ``pipelines``: dvc.yaml (stages, metrics, params, plots, artifacts);
- ``lock``: dvc.lock;
- ``cache``: DVC's cache and ``.dir`` manifests;
- ``config``: .dvc/config and .dvc/config.local;
- ``remotes``: whether a DVC remote holds the objects a revision needs;
- ``project``: what they say together (an artifact's file and md5).

The formats tracked are DVC 3's (3.0 to 3.6x, checked against DVC itself in the tests):
dvc.yaml and dvc.lock schema 2.0, the cache under ``files/md5/`` (and 2.x's flat layout, read
too), md5 hashes. A dvc.yaml that uses templating (``${...}``, ``foreach``, ``matrix``) cannot
be resolved by reading YAML; callers then fall back to DVC itself (``mlgate.dvc``).

What the rest of mlgate uses is exported here.
"""

from mlgate.dvcfiles.cache import (
    DvcRecord,
    cached_object,
    directory_files,
    directory_lists,
    dvc_record,
    read_cached,
)
from mlgate.dvcfiles.config import RemoteConfig, default_remote
from mlgate.dvcfiles.lock import (
    DataChange,
    cached_outputs,
    lock_changes,
    lock_outputs,
    lock_stages,
    read_lock,
    with_locks,
)
from mlgate.dvcfiles.params import DEFAULT_PARAMS_FILE, is_data_format, parse_data_file
from mlgate.dvcfiles.paths import (
    DVC_IGNORE,
    DVC_LOCK,
    DVC_YAML,
    entries,
    folder_of,
    join,
    stage_address,
)
from mlgate.dvcfiles.pipelines import (
    Declarations,
    MetricsFile,
    Plot,
    collect_stage_params,
    declared_plots,
    pipeline_files,
    read_declarations,
    resolved,
)
from mlgate.dvcfiles.project import artifact_file, artifact_path, check_pipeline_files
from mlgate.dvcfiles.yaml12 import check_bounded, parse_yaml

__all__ = [
    "DEFAULT_PARAMS_FILE",
    "DVC_IGNORE",
    "DVC_LOCK",
    "DVC_YAML",
    "DataChange",
    "Declarations",
    "DvcRecord",
    "MetricsFile",
    "Plot",
    "RemoteConfig",
    "artifact_file",
    "artifact_path",
    "cached_object",
    "cached_outputs",
    "check_bounded",
    "check_pipeline_files",
    "collect_stage_params",
    "declared_plots",
    "default_remote",
    "directory_files",
    "directory_lists",
    "dvc_record",
    "entries",
    "folder_of",
    "is_data_format",
    "join",
    "lock_changes",
    "lock_outputs",
    "lock_stages",
    "parse_data_file",
    "parse_yaml",
    "pipeline_files",
    "read_cached",
    "read_declarations",
    "read_lock",
    "resolved",
    "stage_address",
    "with_locks",
]
