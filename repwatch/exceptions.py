from storage.exceptions import RepwatchError

__all__ = ["ConfigError", "RepwatchError"]


class ConfigError(RepwatchError):
    """schedules.yaml is invalid. The message names the file, the key path and what was expected."""

    def __init__(self, path: str, problems: list[str]):
        self.path = path
        self.problems = problems
        lines = "\n".join(f"  - {p}" for p in problems)
        super().__init__(f"{path}: invalid configuration\n{lines}")
