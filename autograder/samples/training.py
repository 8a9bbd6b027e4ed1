NOTEBOOK = "05_training_loop.ipynb"
# The partly-wrong student: best_epoch counts epochs from 1, and evaluate forgets torch.no_grad().
# The notebook still runs end to end: only best_epoch and one check of evaluate lose points.
PARTIAL_MISTAKES = {
    "best_epoch_sol": (
        "def best_epoch(history: dict) -> int:\n"
        "    val = history[\"val_loss\"]\n"
        "    return val.index(min(val)) + 1  # epochs counted from 1\n"
    ),
    "evaluate_sol": (
        "def evaluate(model, loader, loss_fn) -> float:\n"
        "    model.eval()\n"
        "    total, count = 0.0, 0\n"
        "    for batch in loader:  # no torch.no_grad(): an autograd graph is built for nothing\n"
        "        x = batch[0]\n"
        "        total += loss_fn(model(x), x).item() * len(x)\n"
        "        count += len(x)\n"
        "    return total / count\n"
    ),
}
