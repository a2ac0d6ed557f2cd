"""Behavioral foundation models: forward-backward representations from reward-free data, zero-shot
policies for any reward or goal, and fast adaptation by searching their latent space."""
