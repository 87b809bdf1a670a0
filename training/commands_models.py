"""``models list|show|path`` subcommands: read the local registry (show and path verify the artifact first)."""

import argparse

from training.cli_util import add_key_value_option, format_pairs, model_ref, print_json, print_table
from training.db import workspace_path
from training.errors import InvalidModelDir
from training.model_dir import read_sidecar, serialization_format
from training.registry import Registry


def register(subparsers) -> None:
    """Add ``models`` with its ``list``, ``show`` and ``path`` subcommands."""
    models = subparsers.add_parser("models", help="list and inspect registered models",
                                   description="List and inspect the models of the local registry.")
    commands = models.add_subparsers(dest="models_command", required=True, metavar="COMMAND")

    listing = commands.add_parser("list", help="list registered models", description="List registered models.")
    listing.add_argument("--name", help="only this model name")
    add_key_value_option(listing, "--tag", "only models with this tag (repeatable, all must match)")
    add_key_value_option(listing, "--property", "only models with this property (repeatable, all must match)")
    listing.add_argument("--json", action="store_true", help="print JSON instead of a table")
    listing.set_defaults(func=_list)

    show = commands.add_parser("show", help="show one model version (verified)",
                               description="Show a registered model (latest version unless NAME:VERSION).")
    show.add_argument("ref", metavar="NAME[:VERSION]")
    show.add_argument("--json", action="store_true", help="print JSON (record + model.json)")
    show.set_defaults(func=_show)

    path = commands.add_parser("path", help="print only the verified model directory path",
                               description="Print only the model directory of NAME (latest) or NAME:VERSION, after "
                                           "checking its sha256; exit 2 when absent or tampered.")
    path.add_argument("ref", metavar="NAME[:VERSION]")
    path.set_defaults(func=_path)


def _list(args: argparse.Namespace) -> int:
    records = Registry(workspace_path()).list(name=args.name, tags=dict(args.tag), properties=dict(args.property))
    if args.json:
        print_json([record.to_dict() for record in records])
        return 0
    print_table(["NAME", "VERSION", "FORMAT", "CREATED", "RUN", "TAGS"],
                [[r.name, r.version, _format_of(r.path), r.created_at, r.run_id, format_pairs(r.tags)]
                 for r in records])
    return 0


def _format_of(path) -> str:
    """The stored model's serialization format; ``damaged`` rather than failing the listing (``show`` says why)."""
    try:
        return serialization_format(read_sidecar(path))
    except InvalidModelDir:
        return "damaged"


def _show(args: argparse.Namespace) -> int:
    record = Registry(workspace_path()).get(*model_ref(args.ref))
    sidecar = read_sidecar(record.path)
    if args.json:
        print_json({**record.to_dict(), "model_json": sidecar})
        return 0
    fields = {
        "name": record.name, "version": record.version, "path": record.path, "sha256": record.sha256,
        "run id": record.run_id, "created": record.created_at, "framework": record.model_framework,
        "framework version": record.model_framework_version, "estimator": sidecar.get("estimator"),
        "format": f"{serialization_format(sidecar)} ({sidecar['model_file']}, model.json format {sidecar['format']})",
        # a skops model: the types it is loaded with beyond skops' defaults
        **({"trusted types": ", ".join(sidecar["trusted_types"]) or "none beyond skops' defaults"}
           if "trusted_types" in sidecar else {}),
        "features": ", ".join(sidecar.get("feature_names") or []) or sidecar.get("n_features"),
        "classes": sidecar.get("classes"), "tags": format_pairs(record.tags),
        "properties": format_pairs(record.properties), "description": record.description,
    }
    fields.update({f"metric {name}": value for name, value in (sidecar.get("metrics") or {}).items()})
    width = max(map(len, fields))
    for key, value in fields.items():
        print(f"{key + ':':<{width + 2}}{'' if value is None else value}".rstrip())
    return 0


def _path(args: argparse.Namespace) -> int:
    print(Registry(workspace_path()).get(*model_ref(args.ref)).path)
    return 0
