"""Python stubs (messages, gRPC, mypy .pyi) generated from .proto files with grpc_tools.protoc.

The same generators `make protos` runs through buf, taken from the hermetic environment, so
the output equals the committed apis/stubs/python (//apis:stubs_equal_test proves it).
"""

_SUFFIXES = ["_pb2.py", "_pb2.pyi", "_pb2_grpc.py", "_pb2_grpc.pyi"]

def _py_proto_stubs_impl(ctx):
    root = ctx.label.package
    outputs = []
    for proto in ctx.files.srcs:
        if not proto.short_path.startswith(root + "/"):
            fail("%s is outside package %s" % (proto.short_path, root))
        stem = proto.short_path[len(root) + 1:-len(".proto")]
        outputs.extend([ctx.actions.declare_file(stem + suffix) for suffix in _SUFFIXES])

    # Two steps, as buf does: protoc's builtin Python generator records json_name in the
    # embedded descriptors only when it reads them from a descriptor set, and the .pyi
    # docstrings need the source info. Without this the output differs from `make protos`.
    relative = [p.short_path[len(root) + 1:] for p in ctx.files.srcs]
    descriptors = ctx.actions.declare_file(ctx.label.name + "_descriptors.binpb")
    describe = ctx.actions.args()
    describe.add("-m", "grpc_tools.protoc")
    describe.add("--proto_path=" + root)
    describe.add("--descriptor_set_out=" + descriptors.path)
    describe.add("--include_imports")
    describe.add("--include_source_info")
    describe.add_all(relative)
    ctx.actions.run(
        executable = ctx.file._python,
        arguments = [describe],
        inputs = ctx.files.srcs,
        outputs = [descriptors],
        mnemonic = "PyProtoDescriptors",
        progress_message = "Describing %d protos in //%s" % (len(relative), root),
    )

    # Generated files land under <bin>/<package>, mirroring the import path of the protos.
    out_dir = ctx.bin_dir.path + "/" + root
    generate = ctx.actions.args()
    generate.add("-m", "grpc_tools.protoc")
    generate.add("--descriptor_set_in=" + descriptors.path)
    generate.add("--python_out=" + out_dir)
    generate.add("--grpc_python_out=" + out_dir)
    generate.add("--plugin=protoc-gen-mypy=" + ctx.file._mypy_plugin.path)
    generate.add("--plugin=protoc-gen-mypy_grpc=" + ctx.file._mypy_grpc_plugin.path)
    generate.add("--mypy_out=quiet:" + out_dir)
    generate.add("--mypy_grpc_out=quiet:" + out_dir)
    generate.add_all(relative)
    ctx.actions.run(
        executable = ctx.file._python,
        arguments = [generate],
        inputs = [descriptors],
        tools = [ctx.file._mypy_plugin, ctx.file._mypy_grpc_plugin],
        outputs = outputs,
        mnemonic = "PyProtoStubs",
        progress_message = "Generating Python stubs for %d protos in //%s" % (len(relative), root),
    )
    py = [f for f in outputs if f.extension == "py"]
    pyi = [f for f in outputs if f.extension == "pyi"]
    return [
        DefaultInfo(files = depset(outputs)),
        OutputGroupInfo(py = depset(py), pyi = depset(pyi)),
    ]

py_proto_stubs = rule(
    implementation = _py_proto_stubs_impl,
    attrs = {
        "srcs": attr.label_list(allow_files = [".proto"], mandatory = True),
        "_python": attr.label(default = "@stigmer_py//:python", allow_single_file = True, executable = True, cfg = "exec"),
        "_mypy_plugin": attr.label(default = "@stigmer_py//:protoc-gen-mypy", allow_single_file = True, cfg = "exec"),
        "_mypy_grpc_plugin": attr.label(default = "@stigmer_py//:protoc-gen-mypy_grpc", allow_single_file = True, cfg = "exec"),
    },
    doc = "Generates x_pb2.py/.pyi and x_pb2_grpc.py/.pyi for each proto, paths relative to the package.",
)

def py_proto_library(name, srcs, visibility = None, **kwargs):
    """The stubs of `srcs` as a py_library importable from the package root (e.g. `ai.stigmer`).

    Targets: `<name>` (py_library with the .py modules, the .pyi files as data) and
    `<name>_gen` / `<name>_pyi` for the raw outputs.
    """
    py_proto_stubs(name = name + "_gen", srcs = srcs)
    native.filegroup(name = name + "_py", srcs = [":" + name + "_gen"], output_group = "py")
    native.filegroup(name = name + "_pyi", srcs = [":" + name + "_gen"], output_group = "pyi", visibility = visibility)
    native.py_library(
        name = name,
        srcs = [":" + name + "_py"],
        data = [":" + name + "_pyi"],
        imports = ["."],
        visibility = visibility,
        **kwargs
    )
