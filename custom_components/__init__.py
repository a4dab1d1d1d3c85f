"""Custom integrations for Home Assistant (HomeIQ lives in `homeiq`)."""
