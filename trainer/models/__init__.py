"""HomeIQ's models: rows from datasets, training, evaluation, export and registry."""
