"""Training and prediction loops shared by the demo and the estimator."""

from augsleep.training.loop import make_generator, predict_log_proba, train_epoch

__all__ = ["make_generator", "predict_log_proba", "train_epoch"]
