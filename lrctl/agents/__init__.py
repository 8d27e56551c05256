"""PPO controller training with stable-baselines3."""
