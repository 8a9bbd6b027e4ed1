"""Part 5 (training loop): mistakes students make, and correct answers written differently."""
NOTEBOOK = "05_training_loop.ipynb"
# own_curves needs the notebook's experiments, which build_namespace does not run: it is graded end to end.
FUNCTION_CELLS = ["split_train_val", "train_one_epoch", "evaluate", "fit", "best_epoch", "diagnose_fit"]

SPLIT_HEAD = "def split_train_val(dataset, val_fraction, seed):\n"
TRAIN_HEAD = "def train_one_epoch(model, loader, loss_fn, optimizer):\n"
EVAL_HEAD = "def evaluate(model, loader, loss_fn):\n"
FIT_HEAD = "def fit(model, train_loader, val_loader, loss_fn, optimizer, epochs):\n"
BEST_HEAD = "def best_epoch(history):\n"
DIAG_HEAD = "def diagnose_fit(history):\n"


def train(step="        optimizer.zero_grad()\n        loss.backward()\n        optimizer.step()\n",
          mode="    model.train()\n", x="        x = batch[0]\n        loss = loss_fn(model(x), x)\n",
          total="        total += loss.item() * len(x)\n        count += len(x)\n",
          result="    return total / count\n", loop="    for batch in loader:\n"):
    return TRAIN_HEAD + mode + "    total, count = 0.0, 0\n" + loop + x + step + total + result


def evaluate(mode="    model.eval()\n", guard="    with torch.no_grad():\n",
             body="            total += loss_fn(model(x), x).item() * len(x)\n            count += len(x)\n",
             result="    return total / count\n"):
    return (EVAL_HEAD + mode + "    total, count = 0.0, 0\n" + guard + "        for batch in loader:\n"
            "            x = batch[0]\n" + body + result)


def fit(train_call="train_one_epoch(model, train_loader, loss_fn, optimizer)",
        val_call="evaluate(model, val_loader, loss_fn)", loop="range(epochs)",
        keys=('"train_loss"', '"val_loss"')):
    return (FIT_HEAD + f"    history = {{{keys[0]}: [], {keys[1]}: []}}\n"
            f"    for epoch in tqdm({loop}):\n"
            f"        history[{keys[0]}].append({train_call})\n"
            f"        history[{keys[1]}].append({val_call})\n"
            "    return history\n")


OVER = "    if val[-1] > 1.10 * val[best] and train[-1] < train[best]:\n        return 'overfitting'\n"
UNDER = "    if val[-1] < 0.95 * val[-1 - q] or train[-1] > 0.5 * train[0]:\n        return 'underfitting'\n"


def diagnose(over=OVER, under=UNDER):
    return (DIAG_HEAD + "    train, val = history['train_loss'], history['val_loss']\n"
            "    best = best_epoch(history)\n    q = max(1, len(val) // 4)\n" + over + under +
            "    return 'just right'\n")


BUGGY = {
    # split_train_val
    "split_overlapping": ({"split_train_val_sol": SPLIT_HEAD + (
        "    n = len(dataset); n_val = int(val_fraction * n)\n"
        "    g = torch.Generator().manual_seed(seed)\n"
        "    train_idx = torch.randperm(n, generator=g)[n_val:].tolist()\n"
        "    val_idx = torch.randperm(n, generator=g)[:n_val].tolist()\n"
        "    return Subset(dataset, train_idx), Subset(dataset, val_idx)\n")}, {"split_train_val"}),
    "split_ignores_seed": ({"split_train_val_sol": SPLIT_HEAD + (
        "    n = len(dataset); n_val = int(val_fraction * n)\n"
        "    order = torch.randperm(n).tolist()\n"
        "    return Subset(dataset, order[n_val:]), Subset(dataset, order[:n_val])\n")}, {"split_train_val"}),
    "split_not_shuffled": ({"split_train_val_sol": SPLIT_HEAD + (
        "    n = len(dataset); n_val = int(val_fraction * n)\n"
        "    return Subset(dataset, list(range(n - n_val))), Subset(dataset, list(range(n - n_val, n)))\n")},
        {"split_train_val"}),
    "split_parts_swapped": ({"split_train_val_sol": SPLIT_HEAD + (
        "    n = len(dataset); n_val = int(val_fraction * n)\n"
        "    order = torch.randperm(n, generator=torch.Generator().manual_seed(seed)).tolist()\n"
        "    return Subset(dataset, order[:n_val]), Subset(dataset, order[n_val:])\n")}, {"split_train_val"}),
    "split_returns_tensors": ({"split_train_val_sol": SPLIT_HEAD + (
        "    n = len(dataset); n_val = int(val_fraction * n)\n"
        "    order = torch.randperm(n, generator=torch.Generator().manual_seed(seed))\n"
        "    return order[n_val:], order[:n_val]\n")}, {"split_train_val"}),
    # train_one_epoch
    "train_forgets_zero_grad": ({"train_one_epoch_sol": train(
        step="        loss.backward()\n        optimizer.step()\n")}, {"train_one_epoch"}),
    "train_zero_grad_once_per_epoch": ({"train_one_epoch_sol": train(
        mode="    model.train()\n    optimizer.zero_grad()\n",
        step="        loss.backward()\n        optimizer.step()\n")}, {"train_one_epoch"}),
    "train_forgets_step": ({"train_one_epoch_sol": train(
        step="        optimizer.zero_grad()\n        loss.backward()\n")}, {"train_one_epoch"}),
    "train_in_eval_mode": ({"train_one_epoch_sol": train(mode="    model.eval()\n")}, {"train_one_epoch"}),
    "train_never_sets_train_mode": ({"train_one_epoch_sol": train(mode="")}, {"train_one_epoch"}),
    "train_mean_of_batch_means": ({"train_one_epoch_sol": train(
        total="        total += loss.item()\n        count += 1\n")}, {"train_one_epoch"}),
    "train_sum_not_mean": ({"train_one_epoch_sol": train(result="    return total\n")}, {"train_one_epoch"}),
    "train_unpacks_pairs": ({"train_one_epoch_sol": train(
        loop="    for x, _ in loader:\n", x="        loss = loss_fn(model(x), x)\n")}, {"train_one_epoch"}),
    "train_target_is_last_item": ({"train_one_epoch_sol": train(
        x="        x, target = batch[0], batch[-1]\n        loss = loss_fn(model(x), target)\n")},
        {"train_one_epoch"}),
    "train_returns_tensor": ({"train_one_epoch_sol": train(
        total="        total += loss.detach() * len(x)\n        count += len(x)\n")}, {"train_one_epoch"}),
    "train_under_no_grad_eval_forward": ({"train_one_epoch_sol": TRAIN_HEAD + (
        "    model.train()\n    total, count = 0.0, 0\n"
        "    for batch in loader:\n        x = batch[0]\n"
        "        loss = loss_fn(model(x), x)\n"
        "        optimizer.zero_grad(); loss.backward(); optimizer.step()\n"
        "        model.eval()\n"
        "        with torch.no_grad():\n            total += loss_fn(model(x), x).item() * len(x)\n"
        "        count += len(x)\n"
        "    return total / count\n")}, {"train_one_epoch"}),
    # evaluate
    "evaluate_without_eval": ({"evaluate_sol": evaluate(mode="")}, {"evaluate"}),
    "evaluate_without_no_grad": ({"evaluate_sol": evaluate(guard="    if True:\n")}, {"evaluate"}),
    "evaluate_mean_of_batch_means": ({"evaluate_sol": evaluate(
        body="            total += loss_fn(model(x), x).item()\n            count += 1\n")}, {"evaluate"}),
    "evaluate_backward": ({"evaluate_sol": EVAL_HEAD + (
        "    model.eval()\n    total, count = 0.0, 0\n"
        "    for batch in loader:\n        x = batch[0]\n        loss = loss_fn(model(x), x)\n"
        "        loss.backward()\n        total += loss.item() * len(x)\n        count += len(x)\n"
        "    return total / count\n")}, {"evaluate"}),
    # fit
    "fit_validates_on_train_loader": ({"fit_sol": fit(val_call="evaluate(model, train_loader, loss_fn)")},
                                      {"fit"}),
    "fit_one_epoch_too_many": ({"fit_sol": fit(loop="range(epochs + 1)")}, {"fit"}),
    "fit_wrong_keys": ({"fit_sol": fit(keys=('"train"', '"val"'))}, {"fit"}),
    "fit_train_loss_after_epoch": ({"fit_sol": FIT_HEAD + (
        "    history = {'train_loss': [], 'val_loss': []}\n"
        "    for epoch in range(epochs):\n"
        "        train_one_epoch(model, train_loader, loss_fn, optimizer)\n"
        "        history['train_loss'].append(evaluate(model, train_loader, loss_fn))\n"
        "        history['val_loss'].append(evaluate(model, val_loader, loss_fn))\n"
        "    return history\n")}, {"fit"}),
    "fit_own_optimizer": ({"fit_sol": FIT_HEAD + (
        "    history = {'train_loss': [], 'val_loss': []}\n"
        "    own = torch.optim.Adam(model.parameters(), lr=1e-3)\n"
        "    for epoch in range(epochs):\n"
        "        history['train_loss'].append(train_one_epoch(model, train_loader, loss_fn, own))\n"
        "        history['val_loss'].append(evaluate(model, val_loader, loss_fn))\n"
        "    return history\n")}, {"fit"}),
    "fit_validates_before_training": ({"fit_sol": FIT_HEAD + (
        "    history = {'train_loss': [], 'val_loss': []}\n"
        "    for epoch in range(epochs):\n"
        "        history['val_loss'].append(evaluate(model, val_loader, loss_fn))\n"
        "        history['train_loss'].append(train_one_epoch(model, train_loader, loss_fn, optimizer))\n"
        "    return history\n")}, {"fit"}),
    # best_epoch
    "best_epoch_one_based": ({"best_epoch_sol": BEST_HEAD + (
        "    val = history['val_loss']\n    return val.index(min(val)) + 1\n")}, {"best_epoch"}),
    "best_epoch_on_training_loss": ({"best_epoch_sol": BEST_HEAD + (
        "    train = history['train_loss']\n    return train.index(min(train))\n")}, {"best_epoch"}),
    "best_epoch_returns_tensor": ({"best_epoch_sol": BEST_HEAD + (
        "    return torch.tensor(history['val_loss']).argmin()\n")}, {"best_epoch"}),
    "best_epoch_last_minimum_of_rounded": ({"best_epoch_sol": BEST_HEAD + (
        "    val = [round(v, 2) for v in history['val_loss']]\n"
        "    return len(val) - 1 - val[::-1].index(min(val))\n")}, {"best_epoch"}),
    # diagnose_fit
    "diagnose_always_just_right": ({"diagnose_fit_sol": DIAG_HEAD + "    return 'just right'\n"},
                                   {"diagnose_fit"}),
    "diagnose_never_underfitting": ({"diagnose_fit_sol": diagnose(under="")}, {"diagnose_fit"}),
    "diagnose_uses_training_curve_for_improvement": ({"diagnose_fit_sol": diagnose(
        under="    if train[-1] < 0.95 * train[-1 - q] or train[-1] > 0.5 * train[0]:\n"
              "        return 'underfitting'\n")}, {"diagnose_fit"}),
    "diagnose_overfitting_whenever_min_before_end": ({"diagnose_fit_sol": diagnose(
        over="    if best < len(val) - 1:\n        return 'overfitting'\n")}, {"diagnose_fit"}),
    "diagnose_capitalised_labels": ({"diagnose_fit_sol": DIAG_HEAD + (
        "    train, val = history['train_loss'], history['val_loss']\n"
        "    best = best_epoch(history)\n    q = max(1, len(val) // 4)\n"
        "    if val[-1] > 1.10 * val[best] and train[-1] < train[best]:\n        return 'Overfitting'\n"
        "    if val[-1] < 0.95 * val[-1 - q] or train[-1] > 0.5 * train[0]:\n        return 'Underfitting'\n"
        "    return 'Just right'\n")}, {"diagnose_fit"}),
}

ALTERNATIVES = {
    "split_random_split_lengths": {"split_train_val_sol": SPLIT_HEAD + (
        "    n_val = int(val_fraction * len(dataset))\n"
        "    g = torch.Generator().manual_seed(seed)\n"
        "    return tuple(torch.utils.data.random_split(dataset, [len(dataset) - n_val, n_val], generator=g))\n")},
    "split_random_split_fractions": {"split_train_val_sol": SPLIT_HEAD + (
        "    train, val = torch.utils.data.random_split(dataset, [1 - val_fraction, val_fraction],\n"
        "                                               generator=torch.Generator().manual_seed(seed))\n"
        "    return train, val\n")},
    "split_numpy_rounded": {"split_train_val_sol": SPLIT_HEAD + (
        "    import numpy as np\n"
        "    order = np.random.default_rng(seed).permutation(len(dataset))\n"
        "    n_val = round(val_fraction * len(dataset))\n"
        "    return Subset(dataset, order[n_val:].tolist()), Subset(dataset, order[:n_val].tolist())\n")},
    "train_set_to_none_after_step": {"train_one_epoch_sol": train(
        step="        loss.backward()\n        optimizer.step()\n        model.zero_grad(set_to_none=True)\n")},
    "train_sum_over_dataset_length": {"train_one_epoch_sol": TRAIN_HEAD + (
        "    model.train()\n    running = 0.0\n"
        "    for x, *rest in loader:\n"
        "        optimizer.zero_grad(set_to_none=True)\n"
        "        loss = loss_fn(model(x), x)\n        loss.backward()\n        optimizer.step()\n"
        "        running += loss.item() * x.shape[0]\n"
        "    return running / len(loader.dataset)\n")},
    "train_tensor_accumulator": {"train_one_epoch_sol": train(
        total="        total = total + loss.detach().double() * x.size(0)\n        count += x.size(0)\n",
        result="    return float(total / count)\n")},
    "evaluate_inference_mode_lists": {"evaluate_sol": EVAL_HEAD + (
        "    model.eval()\n    losses, sizes = [], []\n"
        "    with torch.inference_mode():\n"
        "        for x, *_ in loader:\n"
        "            losses.append(loss_fn(model(x), x).item())\n            sizes.append(len(x))\n"
        "    return sum(l * s for l, s in zip(losses, sizes)) / sum(sizes)\n")},
    "fit_inline_loop": {"fit_sol": FIT_HEAD + (
        "    train_losses, val_losses = [], []\n"
        "    for _ in range(epochs):\n"
        "        model.train(); total = n = 0\n"
        "        for batch in train_loader:\n"
        "            x = batch[0]; loss = loss_fn(model(x), x)\n"
        "            optimizer.zero_grad(); loss.backward(); optimizer.step()\n"
        "            total += loss.item() * len(x); n += len(x)\n"
        "        train_losses.append(total / n)\n"
        "        model.eval(); total = n = 0\n"
        "        with torch.no_grad():\n"
        "            for batch in val_loader:\n"
        "                x = batch[0]; total += loss_fn(model(x), x).item() * len(x); n += len(x)\n"
        "        val_losses.append(total / n)\n"
        "    return dict(train_loss=train_losses, val_loss=val_losses)\n")},
    "best_epoch_numpy_argmin": {"best_epoch_sol": BEST_HEAD + (
        "    import numpy as np\n    return np.argmin(history['val_loss'])\n")},
    "best_epoch_torch_item": {"best_epoch_sol": BEST_HEAD + (
        "    return int(torch.tensor(history['val_loss']).argmin().item())\n")},
    "diagnose_numpy_without_best_epoch": {"diagnose_fit_sol": DIAG_HEAD + (
        "    import numpy as np\n"
        "    train, val = np.asarray(history['train_loss']), np.asarray(history['val_loss'])\n"
        "    best = int(val.argmin())\n"
        "    if val[-1] > 1.1 * val.min() and train[-1] < train[best]:\n        return 'overfitting'\n"
        "    q = max(1, round(len(val) / 4))\n"
        "    still_improving = val[-1] < 0.95 * val[-q - 1] if q < len(val) else False\n"
        "    if still_improving or train[-1] > train[0] / 2:\n        return 'underfitting'\n"
        "    return 'just right'\n")},
}


# The course cycle's "partly wrong" student (autograder course): answer cells replaced by mistakes.
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
