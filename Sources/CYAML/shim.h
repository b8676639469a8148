// libyaml (Debian: libyaml-dev). Linked by the YAML target (statically on Linux), not here.
#include <yaml.h>
