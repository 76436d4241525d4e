"""The DeepSeek-V3.2 post-training recipe as resumable stages: RPT → specialists → distillation → mixed RL."""
