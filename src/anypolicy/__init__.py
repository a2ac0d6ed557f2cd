"""anypolicy: offline RL and fine-tuning for any policy class. The Python API (anypolicy/api.py):
`fit`, `fit_online`, `resume`, `load`, `evaluate_agent`, `TrainConfig`, and every recipe's typed config (`IQLConfig`,
`PARLCalQLConfig`, ...). Names are imported on first use, so the command line starts fast."""

API = ("fit", "fit_online", "resume", "load", "evaluate_agent", "config_classes")


def __getattr__(name: str):
    if name in API:
        from anypolicy import api

        return getattr(api, name)
    if name == "TrainConfig":
        from anypolicy.train.run_config import TrainConfig

        return TrainConfig
    if name == "OnlineConfig":
        from anypolicy.train.online import OnlineConfig

        return OnlineConfig
    if name == "Agent":
        from anypolicy.agents.base import Agent

        return Agent
    if name.endswith("Config"):
        from anypolicy.api import config_classes

        classes = config_classes()
        if name in classes:
            return classes[name]
    raise AttributeError(f"module 'anypolicy' has no attribute '{name}'")


def __dir__():
    from anypolicy.api import config_classes

    return sorted((*API, "TrainConfig", "OnlineConfig", "Agent", *config_classes()))
