// coffer completion bash: a bash completion script made from the command
// line's own definition, the CLI::App tree main.cc builds. Its commands,
// options and positional arguments are the ones the parser accepts, so the
// script cannot drift from them; the build generates the script the package
// installs (tools/CMakeLists.txt).
#include <algorithm>
#include <array>
#include <string>
#include <string_view>
#include <vector>

#include <fmt/format.h>

#include "tools/cli.h"
#include "tools/exit_codes.h"

namespace coffer::tools {
namespace {

// The shells a script is written for.
constexpr std::array<std::string_view, 1> kShells = {"bash"};

bool AnyOf(std::string_view value, std::initializer_list<std::string_view> values) {
  return std::find(values.begin(), values.end(), value) != values.end();
}

// What the value of an option or a positional argument is, which says what
// completing it offers:
//   snapshot       a snapshot name of the repository (`coffer snapshots --json`)
//   snapshot-path  a path inside the snapshot named before it (`coffer ls --json`)
//   dir, file      a local folder, a local file or folder
//   fd             a file descriptor: nothing, and never passed to the helper commands
//   text           anything else: nothing is offered
// It is read from the value's name alone: a positional's own (SNAPSHOT, PATH,
// FILE...) or an option's type name (FILE, DIR, N...). Every option that takes
// a value names it (EveryOptionNamesItsValue in the completion test), so a new
// file option completes files without a line here.
std::string ValueKind(const CLI::Option& option, bool after_snapshot) {
  const std::string value = option.get_positional() ? option.get_name() : option.get_type_name();
  if (value.starts_with("SNAPSHOT")) return "snapshot";
  if (value == "PATH") return after_snapshot ? "snapshot-path" : "file";
  if (AnyOf(value, {"DIR", "MOUNTPOINT"})) return "dir";
  if (AnyOf(value, {"FILE", "ARCHIVE", "DEST", "SRC"})) return "file";
  if (value == "FD") return "fd";
  return "text";
}

bool TakesValue(const CLI::Option& option) {
  return option.get_items_expected_max() > 0;
}

bool Hidden(const CLI::Option& option) {
  return option.get_group().empty();
}

std::vector<const CLI::App*> Subcommands(const CLI::App& command) {
  return command.get_subcommands([](const CLI::App* sub) { return !sub->get_group().empty(); });
}

// A bash word in double quotes; every value here is a name from the definition.
std::string Quoted(std::string_view text) {
  std::string out = "\"";
  for (char c : text) {
    if (c == '"' || c == '\\' || c == '$' || c == '`') out += '\\';
    out += c;
  }
  return out + "\"";
}

std::string Join(const std::vector<std::string>& words) {
  std::string out;
  for (const std::string& word : words) out += (out.empty() ? "" : " ") + word;
  return out;
}

// The data part of the script: one entry per command, keyed by its path
// ("coffer", "coffer key", "coffer key passwd").
struct ScriptTables {
  std::string subcommands, options, option_values, positionals, passed_on;
};

void Describe(const CLI::App& command, const std::string& path, bool top, ScriptTables& tables) {
  std::vector<std::string> subcommand_names;
  for (const CLI::App* sub : Subcommands(command)) subcommand_names.push_back(sub->get_name());
  if (!subcommand_names.empty()) {
    tables.subcommands += fmt::format("  [{}]={}\n", Quoted(path), Quoted(Join(subcommand_names)));
  }

  std::vector<std::string> option_names, positional_kinds, passed;
  bool after_snapshot = false;
  for (const CLI::Option* option : command.get_options()) {
    if (Hidden(*option)) continue;
    const std::string kind = ValueKind(*option, after_snapshot);
    if (!option->nonpositional()) {
      // A positional taking a list (e.g. backup's PATH...) takes every word left.
      const bool takes_rest = option->get_items_expected_max() > 1;
      positional_kinds.push_back(kind + (takes_rest ? "..." : ""));
      after_snapshot = after_snapshot || kind == "snapshot";
      continue;
    }
    std::vector<std::string> names;
    for (const std::string& name : option->get_snames()) names.push_back("-" + name);
    for (const std::string& name : option->get_lnames()) names.push_back("--" + name);
    const bool ends_parsing =
        option == command.get_help_ptr() || option == command.get_version_ptr();
    for (const std::string& name : names) {
      option_names.push_back(name);
      if (TakesValue(*option)) {
        tables.option_values += fmt::format("  [{}]={}\n", Quoted(path + " " + name), kind);
      }
      if (top && !ends_parsing && kind != "fd") passed.push_back(name);
    }
  }
  tables.options += fmt::format("  [{}]={}\n", Quoted(path), Quoted(Join(option_names)));
  if (!positional_kinds.empty()) {
    tables.positionals += fmt::format("  [{}]={}\n", Quoted(path), Quoted(Join(positional_kinds)));
  }
  if (top) tables.passed_on = Join(passed);
  for (const CLI::App* sub : Subcommands(command)) {
    Describe(*sub, path + " " + sub->get_name(), false, tables);
  }
}

// The functions of the script; the tables above them are generated.
constexpr std::string_view kBashFunctions = R"bash(
# The words of the line up to the cursor, in `words`, the cursor's in `cword`.
# bash splits COMP_WORDS at each character of COMP_WORDBREAKS as well, so
# "--repo=DIR" and "host/web1/2026-11-24T02:00:00Z" arrive in pieces; pieces
# with no blank between them in COMP_LINE are joined again.
_coffer_words() {
  local line=${COMP_LINE:0:COMP_POINT} word i stripped
  words=() cword=0
  for ((i = 0; i <= COMP_CWORD; i++)); do
    stripped=${line#"${line%%[![:blank:]]*}"}
    word=${COMP_WORDS[i]}
    ((i == COMP_CWORD)) && word=$stripped
    if [[ $stripped != "$word"* ]]; then  # not the line we thought: take the words as they are
      words=("${COMP_WORDS[@]:0:COMP_CWORD+1}") cword=$COMP_CWORD
      return
    fi
    if ((i > 0)) && [[ $stripped == "$line" ]]; then
      words[cword]+=$word
    else
      ((i > 0)) && ((cword++))
      words[cword]=$word
    fi
    line=${stripped#"$word"}
  done
}

# A word as the command receives it: quotes and backslashes removed, a
# leading ~/ expanded. Result in `REPLY`.
_coffer_dequote() {
  local word=$1 i c quote=""
  REPLY=""
  [[ $word == "~/"* ]] && word=$HOME/${word#"~/"}
  for ((i = 0; i < ${#word}; i++)); do
    c=${word:i:1}
    if [[ -n $quote ]]; then
      if [[ $c == "$quote" ]]; then quote=""
      elif [[ $quote == '"' && $c == \\ ]]; then ((i++)); REPLY+=${word:i:1}
      else REPLY+=$c; fi
    elif [[ $c == "'" || $c == '"' ]]; then quote=$c
    elif [[ $c == \\ ]]; then ((i++)); REPLY+=${word:i:1}
    else REPLY+=$c; fi
  done
}

# Finds OPTION among the options of COMMAND and of the commands above it,
# whose options may follow a subcommand. Sets `owner`, the command that
# defines it, and `kind`, what its value is (empty for a flag).
_coffer_find_option() {
  local command=$1 option=$2
  owner="" kind=""
  while true; do
    if [[ " ${_coffer_options[$command]} " == *" $option "* ]]; then
      owner=$command kind=${_coffer_option_values["$command $option"]}
      return 0
    fi
    [[ $command == *" "* ]] || return 1
    command=${command% *}
  done
}

# Adds PREFIX+CANDIDATE to COMPREPLY for each CANDIDATE starting with TYPED.
_coffer_offer() {
  local prefix=$1 typed=$2 candidate
  shift 2
  for candidate; do
    [[ $candidate == "$typed"* ]] && COMPREPLY+=("$prefix$candidate")
  done
}

# Runs `coffer` with the global options of the line (`passed`) and ARGS,
# without ever reading the terminal: standard input is /dev/null, setsid
# leaves it no controlling terminal to ask a passphrase on, errors are
# discarded and it is given up after 10 seconds.
_coffer_run() {
  local -a runner=()
  command -v timeout >/dev/null && runner+=(timeout 10)
  command -v setsid >/dev/null && runner+=(setsid -w)
  "${runner[@]}" "$coffer" "${passed[@]}" "$@" </dev/null 2>/dev/null
}

# Whether the repository can be opened without asking for the passphrase:
# the passphrase comes from the environment or from --passphrase-file.
_coffer_can_open() {
  [[ -n ${COFFER_PASSPHRASE+set} || -n ${COFFER_PASSPHRASE_FILE-} ]] && return 0
  local option
  for option in "${passed[@]}"; do
    [[ $option == --passphrase-file ]] && return 0
  done
  return 1
}

# Snapshot names starting with TYPED, and GROUP/latest for each group, from
# `coffer snapshots --json` (an indented array of objects).
_coffer_snapshots() {
  local prefix=$1 typed=$2 line
  local -a names=()
  local -A groups=()
  _coffer_can_open || return 0
  local name_re='^    "name": "([^"\\]*)",?$' group_re='^    "group": "([^"\\]*)",?$'
  while IFS= read -r line; do
    if [[ $line =~ $name_re ]]; then names+=("${BASH_REMATCH[1]}")
    elif [[ $line =~ $group_re ]]; then groups[${BASH_REMATCH[1]}/latest]=1
    fi
  done < <(_coffer_run snapshots --json)
  _coffer_offer "$prefix" "$typed" "${!groups[@]}" "${names[@]}"
}

# A JSON string's text in `REPLY`; fails on escapes no one types (\n, \u...).
_coffer_json_text() {
  local text=$1 i c
  REPLY=""
  for ((i = 0; i < ${#text}; i++)); do
    c=${text:i:1}
    if [[ $c == \\ ]]; then
      ((i++))
      c=${text:i:1}
      [[ $c == [\"\\/] ]] || return 1
    fi
    REPLY+=$c
  done
}

# Paths inside SNAPSHOT starting with TYPED: the entries of the directory
# typed so far, from `coffer ls --json SNAPSHOT DIR` (a JSON object a line),
# directories with a slash.
_coffer_snapshot_paths() {
  local prefix=$1 typed=$2 snapshot=$3 dir="" line
  local -a paths=()
  _coffer_can_open || return 0
  [[ $typed == */* ]] && dir=${typed%/*}/
  local -a where=("$snapshot")
  [[ -n $dir ]] && where+=("$dir")
  local name_re='"name":"(([^"\\]|\\.)*)"' type_re='"type":"([A-Z_]*)"'
  while IFS= read -r line; do
    [[ $line =~ $name_re ]] && _coffer_json_text "${BASH_REMATCH[1]}" || continue
    local path=$dir$REPLY
    [[ $line =~ $type_re && ${BASH_REMATCH[1]} == DIRECTORY ]] && path+=/
    paths+=("$path")
  done < <(_coffer_run ls --json "${where[@]}")
  _coffer_offer "$prefix" "$typed" "${paths[@]}"
  # The shell quotes these names; a directory is not finished with a space.
  compopt -o filenames 2>/dev/null
  [[ ${#COMPREPLY[@]} -eq 1 && ${COMPREPLY[0]} == */ ]] && compopt -o nospace 2>/dev/null
}

# COMPREPLY for a value of KIND typed as RAW (as on the line), each preceded
# by PREFIX ("--option=" or nothing).
_coffer_complete_value() {
  local kind=$1 raw=$2 prefix=$3 candidate
  _coffer_dequote "$raw"
  local typed=$REPLY
  case $kind in
    file | dir)
      local -a found=()
      local IFS=$'\n'
      if [[ $kind == dir ]]; then found=($(compgen -d -- "$typed")); else found=($(compgen -f -- "$typed")); fi
      for candidate in "${found[@]}"; do COMPREPLY+=("$prefix$candidate"); done
      compopt -o filenames 2>/dev/null
      ;;
    snapshot) _coffer_snapshots "$prefix" "$typed" ;;
    snapshot-path) _coffer_snapshot_paths "$prefix" "$typed" "$snapshot" ;;
  esac
  return 0
}

# The shell replaces only the part of the word after its last word break
# (COMP_WORDBREAKS: "=" and ":" among others): that part is what COMPREPLY holds.
_coffer_strip_word_breaks() {
  local word=$1 breaks="" c
  for c in = :; do [[ $COMP_WORDBREAKS == *"$c"* ]] && breaks+=$c; done
  [[ -n $breaks && $word == *[$breaks]* ]] || return 0
  local kept=${word%"${word##*[$breaks]}"}
  COMPREPLY=("${COMPREPLY[@]#"$kept"}")
}

_coffer() {
  local -a words=() positionals=() passed=()
  local cword=0 i word owner kind pending="" pending_kind="" pending_owner="" dashes="" coffer REPLY
  local name value has_value
  COMPREPLY=()
  _coffer_words
  _coffer_dequote "${words[0]}"
  coffer=$REPLY
  local cur=${words[cword]} command=coffer

  # What the words before the cursor are: commands, options (the global
  # ones kept for the helper commands) and positional arguments.
  for ((i = 1; i < cword; i++)); do
    word=${words[i]}
    if [[ -n $pending ]]; then
      _coffer_dequote "$word"
      [[ " $_coffer_passed_on " == *" $pending "* && $pending_owner == coffer ]] && passed+=("$pending" "$REPLY")
      pending=""
      continue
    fi
    if [[ -z $dashes && $word == -?* ]]; then
      if [[ $word == -- ]]; then dashes=1; continue; fi
      name=${word%%=*} value="" has_value=""
      [[ $word == *=* ]] && value=${word#*=} has_value=1
      if ! _coffer_find_option "$command" "$name" && [[ $word == -[!-]?* ]]; then
        name=${word:0:2} value=${word:2} has_value=1  # -rDIR
        _coffer_find_option "$command" "$name"
      fi
      if [[ -z $kind ]]; then
        [[ " $_coffer_passed_on " == *" $name "* && $owner == coffer ]] && passed+=("$name")
      elif [[ -n $has_value ]]; then
        _coffer_dequote "$value"
        [[ " $_coffer_passed_on " == *" $name "* && $owner == coffer ]] && passed+=("$name" "$REPLY")
      else
        pending=$name pending_kind=$kind pending_owner=$owner
      fi
      continue
    fi
    if ((${#positionals[@]} == 0)) && [[ " ${_coffer_subcommands[$command]} " == *" $word "* ]]; then
      command+=" $word"
      continue
    fi
    _coffer_dequote "$word"
    positionals+=("$REPLY")
  done

  # The snapshot a path argument is inside: the first snapshot argument.
  local -a kinds=(${_coffer_positionals[$command]})
  local snapshot=""
  for ((i = 0; i < ${#kinds[@]} && i < ${#positionals[@]}; i++)); do
    if [[ ${kinds[i]%...} == snapshot ]]; then snapshot=${positionals[i]}; break; fi
  done

  if [[ -n $pending ]]; then
    _coffer_complete_value "$pending_kind" "$cur" ""
  elif [[ -z $dashes && $cur == --*=* ]] && _coffer_find_option "$command" "${cur%%=*}" && [[ -n $kind ]]; then
    _coffer_complete_value "$kind" "${cur#*=}" "${cur%%=*}="
  elif [[ -z $dashes && $cur == -* ]]; then
    local above=$command
    while true; do
      _coffer_offer "" "$cur" ${_coffer_options[$above]}
      [[ $above == *" "* ]] || break
      above=${above% *}
    done
    # --help and --version are the command's and the top's: offer each once.
    local -A offered=()
    local -a once=()
    local option
    for option in "${COMPREPLY[@]}"; do
      [[ -n ${offered[$option]} ]] || once+=("$option")
      offered[$option]=1
    done
    COMPREPLY=("${once[@]}")
  elif ((${#positionals[@]} == 0)) && [[ -n ${_coffer_subcommands[$command]} ]]; then
    _coffer_offer "" "$cur" ${_coffer_subcommands[$command]}
  else
    # The positional argument under the cursor; one taking a list takes the rest.
    kind=""
    for ((i = 0; i < ${#kinds[@]}; i++)); do
      if [[ ${kinds[i]} == *... ]] || ((i == ${#positionals[@]})); then kind=${kinds[i]%...}; break; fi
    done
    _coffer_complete_value "$kind" "$cur" ""
  fi
  _coffer_strip_word_breaks "$cur"
  return 0
}

complete -F _coffer coffer
)bash";

std::string BashScript(const CLI::App& app) {
  ScriptTables tables;
  Describe(app, "coffer", true, tables);
  std::string out =
      "# bash completion for coffer: commands, options, snapshot names and paths\n"
      "# inside snapshots. Generated by `coffer completion bash` from coffer's own\n"
      "# definition of its command line; regenerate it rather than edit it.\n"
      "# Snapshot names and paths are read from the repository the line names\n"
      "# (-r, COFFER_REPO) only when no passphrase has to be asked for: with\n"
      "# COFFER_PASSPHRASE, COFFER_PASSPHRASE_FILE or --passphrase-file.\n\n";
  out += "# The subcommands of each command.\ndeclare -gA _coffer_subcommands=(\n" +
         tables.subcommands + ")\n";
  out +=
      "# The option names of each command (a command's options may also follow\n"
      "# its subcommands).\ndeclare -gA _coffer_options=(\n" +
      tables.options + ")\n";
  out +=
      "# What the value of each option taking one is: snapshot, snapshot-path,\n"
      "# dir, file, fd or text.\ndeclare -gA _coffer_option_values=(\n" +
      tables.option_values + ")\n";
  out +=
      "# The kinds of each command's positional arguments, in order; KIND...\n"
      "# takes every remaining word.\ndeclare -gA _coffer_positionals=(\n" +
      tables.positionals + ")\n";
  out +=
      "# The global options the commands run to list snapshots and paths are given.\n"
      "_coffer_passed_on=" +
      Quoted(tables.passed_on) + "\n";
  out += kBashFunctions;
  return out;
}

int RunCompletion(const CLI::App& app, const std::string& shell) {
  if (std::find(kShells.begin(), kShells.end(), shell) == kShells.end()) {
    fmt::print(stderr, "coffer: no completion for the shell '{}': the shells are bash\n", shell);
    return kExitUsage;
  }
  fmt::print("{}", BashScript(app));
  return kExitOk;
}

}  // namespace

void RegisterCompletion(CLI::App& app, GlobalOptions&, int* exit_code) {
  auto shell = std::make_shared<std::string>();
  CLI::App* cmd = app.add_subcommand(
      "completion",
      "Print the shell completion script for SHELL (bash): source <(coffer completion bash)");
  cmd->add_option("SHELL", *shell, "The shell: bash")->required();
  cmd->callback([&app, shell, exit_code] { *exit_code = RunCompletion(app, *shell); });
}

}  // namespace coffer::tools
