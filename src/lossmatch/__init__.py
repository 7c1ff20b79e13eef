"""lossmatch: entity matching under heavy class imbalance."""

__version__ = "0.1.0"


def _register_resolvers() -> None:
    """OmegaConf resolvers that ``conf/`` uses; registered on import so that Hydra's command
    line, the compose API and the sweeper all resolve the same config.

    - ``${run_suffix:}``: pid and random hex, so two runs started in the same microsecond
      never share a run directory (``conf/hydra/default.yaml``), on one machine or on
      several writing to one shared folder;
    - ``${data_name:path[,mode]}``: a data set's name from its path: the file stem of a
      table (``orders.csv`` -> ``orders``), the folder name of a benchmark directory, with
      ``-<mode>`` appended for a mode other than ``official`` (``Structured-Beer-blocked``).
    """
    import os
    import secrets
    from pathlib import Path

    from omegaconf import OmegaConf

    def data_name(path, mode=None) -> str:
        p = Path(str(path).rstrip("/"))
        name = p.stem if p.suffix.lower() in (".csv", ".tsv", ".txt", ".parquet", ".gz") else p.name
        return name if mode in (None, "official") else f"{name}-{mode}"

    if not OmegaConf.has_resolver("run_suffix"):
        OmegaConf.register_new_resolver("run_suffix", lambda: f"{os.getpid()}-{secrets.token_hex(3)}", use_cache=True)
    if not OmegaConf.has_resolver("data_name"):
        OmegaConf.register_new_resolver("data_name", data_name)


_register_resolvers()
