"""References that are not oversampling: class weights and a tuned decision threshold.

The literature's sharpest question about oversampling is whether it beats simply reweighting the classes or
moving the decision threshold (Elor & Averbuch-Elor 2022, "To SMOTE, or not to SMOTE?"). These two answer it
on every leaderboard. They change how the classifier is fitted or used, never the rows: each class here is a
marker that returns the training rows unchanged and declares ``reference``, which the cell reads to fit the
classifier its own way (`bench.classifiers.fit_reference`). ``fit_resample`` stays the interface of real
oversamplers; called on its own (outside a cell), a reference is a no-op, like ``none``.
"""

from methods.none import NoOversampling


class ClassWeights(NoOversampling):
    """Fit the classifier with sample weights that balance the classes (n / (2 x rows of the row's class)).

    Every built-in classifier takes the weights (XGBoost, logistic regression, random forest, CatBoost, the
    GLM as frequency weights). The rows are not touched.

    Examples
    --------
    >>> ClassWeights.reference
    'class_weights'
    """

    reference = "class_weights"
    supports_group_aware = False  # weights balance the classes; the (class, group) cells are not grown


class Threshold(NoOversampling):
    """Fit the classifier as it is, then predict the minority when its score passes a tuned cut.

    The cut maximises balanced accuracy on a seeded, stratified inner split of the training fold (the model
    fitted on the other ``1 - validation_size`` of it); the classifier is then refitted on the whole training
    fold and the cut applied to its test-fold scores. The test fold is never seen. AUPRC and ROC-AUC come from
    scores, which a cut does not change: there this reference equals ``none``.

    Parameters
    ----------
    validation_size : float
        Share of the training fold held out to choose the cut, in (0, 1).

    Examples
    --------
    >>> Threshold(validation_size=0.3).get_params()["validation_size"]
    0.3
    """

    reference = "threshold"
    supports_group_aware = False

    def __init__(self, validation_size: float = 0.25, *, ratio: float = 1.0, group_column: str | None = None,
                 random_state: int | None = None):
        super().__init__(ratio=ratio, group_column=group_column, random_state=random_state)
        self.validation_size = validation_size
