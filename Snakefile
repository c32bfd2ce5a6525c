# jetprof: what the ParticleTransformer jet tagger costs to run.
# The stages live in workflow/rules/; the logic in src/jetprof/.
import sys

from snakemake.utils import min_version, validate

from jetprof import contract
from jetprof import workflow as jw

min_version("9.0")

# the rules run `jetprof`: the one installed beside the Python that runs Snakemake comes
# first, so a venv works without being activated (`.venv/bin/snakemake ...`); conda envs
# (--sdm conda) still put their own first
jw.put_this_python_first_on_path()

# measurements must not share the CPU with each other or with training: those rules take
# the whole `measure_slot` (contract.WHOLE_SLOT units); prediction, export, evaluation, the
# summaries and the figures are no measurement and take half of it each, so two run beside
# each other but never beside a measurement (on a cluster where each job has its own node, raise it:
# --resources measure_slot=16 lets 8 measurements run at once)
workflow.global_resources.setdefault("measure_slot", contract.WHOLE_SLOT)


configfile: "config/config.yaml"


jw.normalize_cli_flags(config)
# a wrong key or type stops the run here, before any job, naming the key
_problems = jw.config_problems(
    config, f"{workflow.basedir}/workflow/schemas/config.schema.yaml"
)
if _problems:  # one line per problem, then stop before any job
    _files = jw.config_files_label(workflow.configfiles)
    print(
        f"jetprof: invalid config ({_files}):\n  " + "\n  ".join(_problems),
        file=sys.stderr,
    )
    sys.exit(1)
validate(config, "workflow/schemas/config.schema.yaml")
# validate() has filled in every default of the schema: from here on `config` is complete,
# the jetprof.study_config.StudyConfig that jetprof.workflow's functions take (typed there,
# where mypy checks every key they read; no type checker reads this file or the rules, so
# this is the one place a plain dict becomes a StudyConfig, by this line's word)


report: "workflow/report/workflow.rst"


include: "workflow/rules/common.smk"


if not REGENERATE:

    include: "workflow/rules/dataset.smk"
    include: "workflow/rules/train.smk"
    include: "workflow/rules/export.smk"
    include: "workflow/rules/profile.smk"


include: "workflow/rules/serving.smk"
include: "workflow/rules/plot.smk"
include: "workflow/rules/node.smk"


rule all:
    default_target: True
    input:
        get_report_inputs(),
