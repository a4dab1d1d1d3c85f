"""HomeIQ core: telemetry, features and inference shared by integration and trainer.

This package is pure Python + numpy. It never imports `homeassistant`: the trainer
imports it as `homeiq_core` on machines without Home Assistant, and the integration
ships it as `custom_components.homeiq.core`. Modules here use relative imports only.
"""
