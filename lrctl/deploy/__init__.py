"""What deploying a learned policy needs, with torch alone: the policy file (`policy`), the observation
features (`features`, `feature_sets`), the LR rule of a decision (`actions`) and `PolicyScheduler`
(`scheduler`). The environments compute their observations and apply their actions with the same
modules, so a policy sees in deployment exactly what it saw in training.
"""
