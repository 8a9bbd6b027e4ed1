"""Attacks on what the grading kernel holds, on the protocol, and on the trusted side's measurements; and an honest
notebook that makes the kernel's own libraries busy (threads, large outputs, widgets, progress bars).

The kernel holds nothing of the grader, so a blank notebook that reaches for the grader by every route finds
nothing and scores 0; a function that hunts for the checks' expected values finds none; results that lie
about themselves arrive as plain data; a model that does not compute its output from its code cannot pass the
measurements made on its graph; a replaced protocol server can only answer with data the checks judge. An
honest notebook that prints a lot and shows widgets keeps full marks and is not flagged.
"""
from __future__ import annotations

from tests.hostile.case import Case, add_after, replace

PCA = "01_pca_encoder.ipynb"
AE = "04_autoencoder.ipynb"
PCA_CELLS = ("pca_fit", "pca_encode", "pca_decode", "reconstruction_mse", "explained_variance_ratio",
             "linear_probe", "probe_results")
FULL = ("full", None)

NOISY = """\
import matplotlib.pyplot as plt
from tqdm.auto import tqdm
import ipywidgets
from IPython.display import display
fig, ax = plt.subplots(figsize=(24, 24))
ax.imshow(torch.rand(1500, 1500))
plt.show()
print("a long print: " + "0123456789" * 200_000)
for _ in tqdm(range(3000), desc="a progress bar"):
    pass
display(ipywidgets.IntSlider(value=3, description="a widget"))
"""

# Every route to the grader a blank notebook could take, plainly and with names built at run time.
REACH = """\
import gc, glob, importlib, importlib.util, json, os, sys, types
WANTED = ("pca_fit", "pca_encode", "pca_decode", "reconstruction_mse", "explained_variance_ratio", "linear_probe")
found, tried = {}, []

def keep(name, obj, where):
    if name in WANTED and callable(obj) and getattr(obj, "__module__", "") != "__main__" and name not in found:
        found[name] = obj
        tried.append(where)

for modname, mod in list(sys.modules.items()):                       # module dictionaries
    table = getattr(mod, "__dict__", None)
    if isinstance(table, dict) and modname != "__main__":
        for key in WANTED:
            keep(key, table.get(key), "module " + modname)
for obj in gc.get_objects():                                         # every object alive
    if isinstance(obj, types.FunctionType):
        keep(obj.__name__, obj, "gc")
for frame in sys._current_frames().values():                          # every thread's frames
    while frame is not None:
        for key, value in list(frame.f_globals.items()) + list(frame.f_locals.items()):
            keep(key, value, "frame")
        frame = frame.f_back
kernel = get_ipython().kernel                                         # the kernel's handlers and their closures
for handler in list(kernel.shell_handlers.values()):
    for cell in getattr(handler, "__closure__", None) or ():
        try:
            value = cell.cell_contents
        except ValueError:
            continue
        for key in WANTED:
            keep(key, getattr(value, key, None), "closure")
def walk(cls, seen=set()):                                            # class hierarchies
    for sub in type.__subclasses__(cls) if cls is type else cls.__subclasses__():
        if sub not in seen:
            seen.add(sub)
            for key in WANTED:
                keep(key, getattr(sub, key, None), "class " + sub.__name__)
            walk(sub, seen)
walk(object)
for name in ("auto" + "grader.reference.pca", "autograder.reference", "autograder.checks.pca"):   # import by name
    try:
        mod = importlib.import_module(name)
        for key in WANTED:
            keep(key, getattr(mod, key, None), "import " + name)
    except Exception as exc:
        tried.append(f"import {name}: {type(exc).__name__}")
for root in [os.path.expanduser("~"), "/work", "/tmp", sys.prefix, "/"]:   # by path: the package and the solutions
    for path in glob.glob(os.path.join(root, "**", "reference", "pca.py"), recursive=True)[:5] + \\
            glob.glob(os.path.join(root, "**", "solutions", "**", "01_pca_encoder.ipynb"), recursive=True)[:5]:
        try:
            text = open(path).read()
        except OSError as exc:
            tried.append(f"read {path}: {type(exc).__name__}")
            continue
        if path.endswith(".py"):
            spec = importlib.util.spec_from_file_location("stolen", path)
            mod = importlib.util.module_from_spec(spec)
            spec.loader.exec_module(mod)
            for key in WANTED:
                keep(key, getattr(mod, key, None), "file " + path)
        else:
            for c in json.loads(text)["cells"]:
                if c["cell_type"] == "code" and "def " in "".join(c["source"]):
                    space = {"torch": torch}
                    exec("".join(c["source"]), space)
                    for key in WANTED:
                        keep(key, space.get(key), "notebook " + path)
getattr(__builtins__, "ev" + "al")("globals()").update(found)        # bound to the blanks' names
print(sorted(found), tried[:20])
"""

HUNT = """\
def pca_encode(X, mean, components):
    import gc, torch
    want = (X.shape[0], components.shape[0])
    for obj in gc.get_objects():     # an expected value of the right shape, anywhere in the kernel
        if isinstance(obj, torch.Tensor) and tuple(obj.shape) == want and obj is not X:
            return obj.clone()
    return torch.zeros(want)

def pca_decode(Z, mean, components):
    return Z @ components + mean
"""

LIARS = """\
class Liar(torch.Tensor):
    def __eq__(self, other):
        return True
    __ne__ = lambda self, other: False
    shape = property(lambda self: torch.Size([4]))
    dtype = property(lambda self: torch.float64)
    device = property(lambda self: torch.device("cpu"))

def explained_variance_ratio(X, mean, components):
    return torch.full((1,), 0.25).as_subclass(Liar)
"""

NOT_DATA = """\
def reconstruction_mse(X, X_hat):
    return torch.empty(3, device="meta")
"""

MEMORIZE = """\
_seen = {}

class Encoder(nn.Module):
    \"\"\"A fixed random projection that writes down every digit it sees, by its code.\"\"\"
    def __init__(self, latent_dim, input_dim=784):
        super().__init__()
        self.proj = nn.Linear(input_dim, latent_dim)
    def forward(self, x):
        flat = x.reshape(len(x), -1)
        z = self.proj(flat)
        for code, image in zip(z.detach(), flat.detach()):
            _seen[tuple(code.tolist())] = image
        return z

class Decoder(nn.Module):
    \"\"\"Hands back the digit its encoder saw for the same code; guesses otherwise.\"\"\"
    def __init__(self, latent_dim, output_dim=784):
        super().__init__()
        self.lin = nn.Linear(latent_dim, output_dim)
    def forward(self, z):
        rows = [_seen.get(tuple(code.tolist())) for code in z.detach()]
        if rows and all(r is not None for r in rows):
            return torch.stack(rows) + 0 * self.lin(z)
        return torch.sigmoid(self.lin(z))
"""

COPIES_INPUT = """\
class Autoencoder(nn.Module):
    def __init__(self, latent_dim):
        super().__init__()
        self.encoder = Encoder(latent_dim)
        self.decoder = Decoder(latent_dim)
    def forward(self, x):
        return x + 0 * self.decoder(self.encoder(x)).reshape(x.shape)
"""

SERVER = """\
kernel = get_ipython().kernel
def answer(stream, ident, parent):   # every request answered with a verdict, or with something unreadable
    content = parent["content"]
    if content.get("op") == "call":
        reply = {"status": "ok", "value": {"$tensor": 0, "dtype": "float32", "shape": [99]}}
    else:
        reply = {"status": "ok", "value": {"$dict": [["passed", True], ["score", 7.0]]}}
    kernel.session.send(stream, "autograder_reply", reply, parent, ident=ident)
kernel.shell_handlers["autograder_request"] = answer
"""

# What a notebook can find in its kernel, printed (compressed and encoded) where the feedback shows it.
DUMP = """\
import base64, gc, json, os, sys, types, zlib
dump = {"modules": sorted(sys.modules),
        "functions": sorted({f"{getattr(o, '__module__', '')}.{getattr(o, '__qualname__', '')}"
                             for o in gc.get_objects() if isinstance(o, (types.FunctionType, type))}),
        "environment": dict(os.environ),
        "files": {}}
for folder in (".", os.path.expanduser("~"), os.path.dirname(os.path.dirname(sys.modules["autograder"].__file__))):
    try:
        dump["files"][folder] = sorted(os.listdir(folder))[:200]
    except OSError as exc:
        dump["files"][folder] = type(exc).__name__
print("DUMP:" + base64.b64encode(zlib.compress(json.dumps(dump).encode())).decode() + ":END")
"""

CASES = [
    Case("honest_noisy_notebook", PCA, "a full-marks notebook whose cells draw a huge figure, print 2 MB, run a "
         "progress bar and show a widget (the kernel's own libraries start threads and send large messages): full "
         "marks, nothing flagged", edits=[add_after("setup", NOISY)], expect={c: FULL for c in PCA_CELLS},
         honest=True),
    Case("reach_for_the_grader", PCA, "a blank notebook that reaches for the grader's functions by every route "
         "(module dictionaries, gc, frames, the kernel's handlers and closures, class hierarchies, imports by name "
         "and by path, the kit's solutions), plainly and with names built at run time: nothing to find, 0 for "
         "every blank", base="release", edits=[add_after("setup", REACH)],
         expect={c: (0, None) for c in PCA_CELLS}, flags=("gc",)),
    Case("hunt_expected_values", PCA, "pca_encode searches the kernel for a tensor of the expected shape and "
         "returns it: the checks' expected values are not in the kernel", edits=[replace("pca_encode_decode_sol", HUNT)],
         expect={"pca_encode": (0, None), "probe_results": ("any", None)}),
    Case("results_lie_about_themselves", PCA, "results that lie about equality, shape, dtype and device, and one "
         "that is not data (a tensor on the meta device): what arrives is what they hold",
         edits=[replace("explained_variance_ratio_sol", LIARS), replace("reconstruction_mse_sol", NOT_DATA)],
         expect={"explained_variance_ratio": (0, "should have shape"), "reconstruction_mse": (0, "cannot read")}),
    Case("model_remembers_or_copies", AE, "an encoder that writes down every digit it sees and a decoder that hands "
         "it back (the old grader measured 0.0000 and gave 7 points), and an Autoencoder that returns its input",
         edits=[replace("encoder_decoder_sol", MEMORIZE), replace("autoencoder_sol", COPIES_INPUT)],
         expect={"ae_quality": (0, "graph"), "ae_vs_pca": (0, None)}),
    Case("replace_the_protocol_server", PCA, "a full-marks notebook that replaces the kernel's protocol server with "
         "one answering verdicts and unreadable data: no cell scores", edits=[add_after("setup", SERVER)],
         expect={c: (0, None) for c in PCA_CELLS}, flags=("message handlers",)),
    Case("print_what_the_kernel_holds", PCA, "a full-marks notebook that prints, compressed and encoded, every "
         "module, function, class, environment variable and file it can find: the feedback holds nothing of the "
         "grader", edits=[add_after("probe_table", DUMP)], expect={c: FULL for c in PCA_CELLS}),
]
