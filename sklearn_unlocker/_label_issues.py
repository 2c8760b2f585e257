"""The training labels as a fitted model judges them: the fitted attributes and the table.

:func:`store` reads them off the trained engine (``label_issues_``,
``clean_proba_``, ``label_quality_``, ``corrected_labels_``...); :func:`table` is
what ``find_label_issues`` returns, in cleanlab's terms.
"""

import numpy as np
import pandas as pd


def store(est, engine, strategy, data):
    """Set the per-sample fitted attributes of the rows trained on (``data.train``: their
    positions in X, or None for all) from the engine's last split and score pass."""
    y_encoded, train = data.y, data.train
    est._given_labels_ = est.classes_[y_encoded]
    # a torchvision dataset's names of its integer labels (folder names): name[label]
    names = est._dataset_classes_
    if names is not None and np.issubdtype(est.classes_.dtype, np.integer) and \
            est.classes_.min() >= 0 and est.classes_.max() < len(names):
        est.class_names_ = np.asarray(names, dtype=object)
    elif hasattr(est, "class_names_"):
        del est.class_names_
    est.train_indices_ = np.arange(len(y_encoded)) if train is None else train
    split = engine.split
    est.label_issues_ = ~split.clean_mask
    corrected = split.corrected_labels
    if not getattr(strategy, "judges_labels", True):  # it trusted every label: flag what
        est.label_issues_ = engine.predicted_labels != engine.y  # the model overrules
        corrected = np.where(est.label_issues_, engine.predicted_labels, corrected)
    est.clean_proba_ = split.clean_proba
    est.label_quality_ = engine.label_quality
    est.corrected_labels_ = est.classes_[corrected]
    est._predicted_labels_ = est.classes_[engine.predicted_labels]


def table(est, return_indices_ranked_by=None):
    """The label-issue table of a fitted estimator, or the issues' ranked positions."""
    if return_indices_ranked_by not in (None, "label_quality"):
        raise ValueError(f"return_indices_ranked_by must be None or 'label_quality'; got "
                         f"{return_indices_ranked_by!r}")
    if return_indices_ranked_by is not None:
        issues = np.flatnonzero(est.label_issues_)
        return est.train_indices_[issues[np.argsort(est.label_quality_[issues],
                                                    kind="stable")]]
    return pd.DataFrame(index=est.train_indices_, data={
        "is_label_issue": est.label_issues_,
        "label_quality": est.label_quality_,
        "clean_proba": est.clean_proba_,
        "given_label": est._given_labels_,
        "predicted_label": est._predicted_labels_,
        "corrected_label": est.corrected_labels_,
    })
