"""Child networks and their training: one child (`child.ChildRun`, `child.SingleChild`) or K children of
one setting in one batched pass (`batched.BatchedChildren`, forward passes in `batched_forward`).

Nothing here knows about Gymnasium or stable-baselines3: the environments (`lrctl.envs`), the agents'
VecEnvs (`lrctl.agents`) and the evaluation drive these children.
"""
