"""The smote-variants family as a static table of names: the provider entry point that registers it.

Listing methods reads this module only; smote-variants itself (and scikit-learn) is imported when one of its
methods is resolved (``methods/smote_variants.py``). ``tests/test_contract.py`` checks that ``CLASSES`` is
exactly ``smote_variants.get_all_oversamplers()`` of the installed version, so the table cannot drift.
"""

VERSION = "1.0.1"

#: ``smote_variants.get_all_oversamplers()`` of smote-variants 1.0.1, in its order (91 classes).
CLASSES = (
    "A_SUWO", "ADASYN", "ADG", "ADOMS", "AHC", "AMSCO", "AND_SMOTE", "ANS", "ASMOBD", "Assembled_SMOTE",
    "Borderline_SMOTE1", "Borderline_SMOTE2", "CBSO", "CCR", "CE_SMOTE", "cluster_SMOTE", "CURE_SMOTE",
    "DBSMOTE", "DE_oversampling", "DEAGO", "distance_SMOTE", "DSMOTE", "DSRBF", "E_SMOTE", "Edge_Det_SMOTE",
    "G_SMOTE", "GASMOTE", "Gaussian_SMOTE", "polynom_fit_SMOTE_star", "polynom_fit_SMOTE_bus",
    "polynom_fit_SMOTE_poly", "polynom_fit_SMOTE_mesh", "Gazzah", "IPADE_ID", "ISMOTE", "ISOMAP_Hybrid",
    "KernelADASYN", "kmeans_SMOTE", "Lee", "LLE_SMOTE", "LN_SMOTE", "LVQ_SMOTE", "MCT", "MDO", "MOT2LD",
    "MSYN",
    "MWMOTE", "NDO_sampling", "NEATER", "NRAS", "NRSBoundary_SMOTE", "NT_SMOTE", "OUPS", "PDFOS", "ProWSyn",
    "Random_SMOTE", "ROSE", "RWO_sampling", "Safe_Level_SMOTE", "SDSMOTE", "Selected_SMOTE", "SL_graph_SMOTE",
    "SMMO", "SMOBD", "SMOTE_Cosine", "SMOTE_D", "SMOTE_ENN", "SMOTE_FRST_2T", "SMOTE_IPF", "SMOTE_OUT",
    "SMOTE_PSO", "SMOTE_PSOBAT", "SMOTE_RSB", "SMOTE_TomekLinks", "SMOTE", "SN_SMOTE", "SOI_CJ", "SOMO",
    "SPY",
    "SSO", "Stefanowski", "SUNDO", "Supervised_SMOTE", "SVM_balance", "SYMPROD", "TRIM_SMOTE", "V_SYNTH",
    "VIS_RST", "MSMOTE", "SMOTE_AMSR", "SMOTEWB",
)


def name_of(sv_class: str) -> str:
    """The registered name of a smote-variants class: ``ProWSyn`` -> ``sv-prowsyn``."""
    return "sv-" + sv_class.lower().replace("_", "-")


def provide() -> dict[str, str]:
    """The ``bench.providers`` entry point: every family member as ``name -> "module:Class"``."""
    return {name_of(c): f"methods.smote_variants:{c}" for c in CLASSES}

#: Members that fail the bench contract on tests/test_contract.py's mixed table: name -> (why, the error it
#: raises, as a regular expression). The test checks that exactly these fail, each with its error.
CONTRACT_FAILURES: dict[str, tuple[str, str]] = {
    # the method itself cannot meet the contract
    "sv-deago": ("needs tensorflow (an autoencoder), left out of the install: gigabytes for one method",
                 r"No module named 'tensorflow'"),
    "sv-e-smote": ("selects features and returns its rows in the reduced space",
                   r"sv-e-smote returned rows with \d+ columns instead of"),
    "sv-isomap-hybrid": ("returns its rows in an Isomap embedding (3 columns)",
                         r"sv-isomap-hybrid returned rows with 3 columns instead of"),
    "sv-gazzah": ("PCA-based: returns every row reconstructed from fewer components",
                  r"sv-gazzah returned none of the grown cell's"),
    "sv-ipade-id": ("prototype generation: returns evolved prototypes instead of the training rows",
                    r"sv-ipade-id returned none of the grown cell's"),
    "sv-spy": ("relabels majority rows as minority instead of making rows; the contract keeps real rows",
               r"sv-spy made no new rows \(it changed \d+ real rows"),
    # a bug or an incompatibility in smote-variants 1.0.1 under the pinned libraries
    "sv-mot2ld": ("calls TSNE(n_iter=...), which the pinned scikit-learn 1.9 no longer accepts",
                  r"TSNE.__init__\(\) got an unexpected keyword argument 'n_iter'"),
    "sv-symprod": ("a shape error inside the library, which then returns copies",
                   r"sv-symprod made no new rows .*operands could not be broadcast"),
    "sv-smmo": ("its QDA member cannot fit one-hot (collinear) columns",
                r"covariance matrix of class 0 is not full rank"),
    "sv-kerneladasyn": ("one-hot columns make its covariance ill-conditioned: it reruns in a PCA projection "
                        "and returns every row reconstructed", r"sv-kerneladasyn returned none of the grown"),
    # gives up on the contract's 52-row table (12 minority rows): too few rows for its clusters or filters
    "sv-adg": ("finds no vector to add on the small table (Z_hat is empty)",
               r"sv-adg made no new rows .*Z_hat is empty"),
    "sv-amsco": ("its swarm search (fast n_pop=2, n_iter=2) settles on removing real rows, not adding rows",
                 r"sv-amsco made no new rows \(it changed \d+ real rows"),
    "sv-smote-enn": ("ENN removes too many rows of the small table; the library then returns copies",
                     r"sv-smote-enn made no new rows .*ENN removed too many samples"),
    "sv-soi-cj": ("no cluster of two or more minority rows in the small table",
                  r"sv-soi-cj made no new rows .*No clusters with at least 2 elements"),
    "sv-vis-rst": ("finds too many majority rows on the boundary of the small table",
                   r"sv-vis-rst made no new rows .*too many majority samples identified as boundary"),
}
