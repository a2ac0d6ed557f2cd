"""Hierarchical, language-conditioned control (language control diffusion): language encoders, and the
planner and low-level policy built on them."""
