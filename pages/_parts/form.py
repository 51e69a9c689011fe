"""The Train page's form: which per-phase settings it shows, and which live under a
workbench-wide key. Shared with the Results page, which loads a run's settings back into it."""
from __future__ import annotations

SHARED = {"dae.noise_ratio": "wb.noise", "cl.augmentation": "wb.augmentation"}  # also set on the Imbalance page
PAIR_ONLY = {"cl.augmentation", "cl.max_pairs"}  # settings of the cosine pair loss only

# (key, label, kind, options) per phase section; kind: int | float | lr | bool | choice
FIELDS = {
    "dae": [("dae.epochs", "Epochs", "int", (1, 100)), ("dae.lr", "Learning rate", "lr", None), ("dae.batch_size", "Batch size", "int", (1, 8192)),
            ("dae.noise_ratio", "Noise ratio (word deletion)", "float", (0.0, 0.9))],
    "cl": [("cl.epochs", "Epochs", "int", (1, 100)), ("cl.lr", "Learning rate", "lr", None), ("cl.batch_size", "Batch size", "int", (1, 8192)),
           ("cl.augmentation", "Pair augmentation", "int", (1, 16)), ("cl.loss", "Loss", "choice", ("cosine", "supcon", "simclr")),
           ("cl.max_pairs", "Max pairs (0 = all)", "int", (0, 10_000_000))],
    "ft": [("ft.epochs", "Max epochs", "int", (1, 200)), ("ft.lr", "Encoder learning rate", "lr", None), ("ft.head_lr", "Head learning rate", "lr", None),
           ("ft.batch_size", "Batch size", "int", (1, 8192)), ("ft.patience", "Early-stopping patience (epochs)", "int", (1, 100)),
           ("ft.scheduler", "Schedule", "choice", ("linear", "cosine", "constant")), ("ft.head_hidden", "Head hidden size", "int", (8, 4096)),
           ("ft.dropout", "Dropout", "float", (0.0, 0.9)), ("ft.freeze_encoder", "Freeze the encoder", "bool", None),
           ("ft.head_input_norm", "Normalise the head's input", "bool", None)],
}
# Joint takes epochs and learning rate from `cl`, always uses the cosine pair loss, and only the
# DAE's batch size and noise (phases/joint.py): the tab shows just those.
FIELDS["joint"] = [("cl.epochs", "Epochs", "int", (1, 100)), ("cl.lr", "Learning rate", "lr", None),
                   ("cl.batch_size", "Pair batch size", "int", (1, 8192)), ("dae.batch_size", "DAE batch size", "int", (1, 8192)),
                   ("dae.noise_ratio", "Noise ratio (word deletion)", "float", (0.0, 0.9)),
                   ("cl.augmentation", "Pair augmentation", "int", (1, 16)), ("cl.max_pairs", "Max pairs (0 = all)", "int", (0, 10_000_000))]


def field_keys() -> list[str]:
    """Every per-phase setting the form shows, once."""
    return list(dict.fromkeys(key for fields in FIELDS.values() for key, *_ in fields))

