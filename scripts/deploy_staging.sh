#!/usr/bin/env bash
# Deploys the order engine and its monitoring to a staging host with docker
# compose. Run from anywhere inside the repository; see --help.
set -euo pipefail

readonly PROJECT=comanda-staging
readonly IMAGE_REPO=comanda-engine
readonly SERVICES=(postgres redis engine prometheus grafana)
readonly REQUIRED_VARS=(
	APP_ENV JWT_SECRET PUBLIC_BASE_URL MERCADOPAGO_ACCESS_TOKEN
	MERCADOPAGO_WEBHOOK_SECRET POSTGRES_PASSWORD GRAFANA_ADMIN_PASSWORD
)
readonly SECRET_VARS=(
	JWT_SECRET MERCADOPAGO_ACCESS_TOKEN MERCADOPAGO_WEBHOOK_SECRET
	POSTGRES_PASSWORD GRAFANA_ADMIN_PASSWORD
)

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
readonly ROOT
readonly COMPOSE_FILE="$ROOT/docker-compose.staging.yml"
readonly STATE_DIR="${STAGING_STATE_DIR:-$ROOT/.cache/staging}"

ENV_FILE="${STAGING_ENV_FILE:-$ROOT/deploy/staging.env}"
HEALTH_TIMEOUT="${HEALTH_TIMEOUT:-180}"
COMPOSE=()
declare -A CONFIG=()

# Set once the new image is about to replace the running one; from then on a
# failure rolls back to PREVIOUS_IMAGE.
ROLLBACK_ARMED=false
PREVIOUS_IMAGE=""

usage() {
	cat <<USAGE
Usage: scripts/deploy_staging.sh [--env-file FILE] [COMMAND]

Builds the engine image tagged with the git commit, migrates the database,
starts the staging stack (engine, postgres, redis, prometheus, grafana), waits
for every health check and runs the smoke tests. If anything fails after the
new image starts replacing the old one, the engine is rolled back to the
image that ran before and restarted.

Commands (default: deploy):
  --check           validate the configuration only, change nothing
  --down            stop and remove the stack's containers (volumes are kept)
  --logs [SERVICE]  follow the logs of one service, or of all
  --help            show this help

Options:
  --env-file FILE   settings file (default deploy/staging.env; start from
                    deploy/staging.env.example)

Environment:
  HEALTH_TIMEOUT    seconds to wait for the health checks (default 180)
  SMOKE_BASE_URL    engine URL for the smoke tests
                    (default http://127.0.0.1:\$ENGINE_PORT)
  STAGING_STATE_DIR where the previous and last good image tags are kept
                    (default .cache/staging)

Migrations are not rolled back: each one must keep working with the engine
version before it.
USAGE
}

log() { printf '==> %s\n' "$*" >&2; }
die() {
	printf 'error: %s\n' "$*" >&2
	exit 1
}

# compose runs docker compose v2, or docker-compose v1 where the plugin is
# missing, on the staging project with the settings file.
compose() {
	STAGING_ENV_FILE="$ENV_FILE" "${COMPOSE[@]}" -p "$PROJECT" -f "$COMPOSE_FILE" \
		--env-file "$ENV_FILE" "$@"
}

find_compose() {
	if docker compose version >/dev/null 2>&1; then
		COMPOSE=(docker compose)
	elif command -v docker-compose >/dev/null 2>&1; then
		COMPOSE=(docker-compose)
	else
		die "neither 'docker compose' nor 'docker-compose' is installed"
	fi
}

# load_env_file reads KEY=value lines into CONFIG without executing the file.
load_env_file() {
	[[ -f $ENV_FILE ]] || die "settings file $ENV_FILE not found; copy deploy/staging.env.example"

	local line key n=0
	while IFS= read -r line || [[ -n $line ]]; do
		n=$((n + 1))
		[[ -z ${line//[[:space:]]/} || $line =~ ^[[:space:]]*# ]] && continue
		if [[ ! $line =~ ^[A-Za-z_][A-Za-z0-9_]*= ]]; then
			die "$ENV_FILE:$n: expected KEY=value"
		fi
		key=${line%%=*}
		CONFIG[$key]=${line#*=}
	done <"$ENV_FILE"
}

validate_config() {
	load_env_file

	local problems=() name value
	for name in "${REQUIRED_VARS[@]}"; do
		[[ -n ${CONFIG[$name]:-} ]] || problems+=("$name is not set")
	done
	for name in "${SECRET_VARS[@]}"; do
		value=${CONFIG[$name]:-}
		if [[ $value == change-me* ]]; then
			problems+=("$name still holds the example placeholder")
		fi
	done

	value=${CONFIG[JWT_SECRET]:-}
	if [[ -n $value && ${#value} -lt 32 ]]; then
		problems+=("JWT_SECRET must be at least 32 characters")
	fi
	value=${CONFIG[APP_ENV]:-}
	if [[ -n $value && $value != staging ]]; then
		problems+=("APP_ENV is '$value', expected 'staging'")
	fi
	value=${CONFIG[POSTGRES_PASSWORD]:-}
	if [[ -n $value && ! $value =~ ^[A-Za-z0-9]+$ ]]; then
		problems+=("POSTGRES_PASSWORD may hold only letters and digits")
	fi
	value=${CONFIG[PUBLIC_BASE_URL]:-}
	if [[ -n $value && ! $value =~ ^https?:// ]]; then
		problems+=("PUBLIC_BASE_URL must start with http:// or https://")
	fi

	if ((${#problems[@]} > 0)); then
		for value in "${problems[@]}"; do
			printf 'error: %s: %s\n' "$ENV_FILE" "$value" >&2
		done
		exit 1
	fi

	find_compose
	compose config -q || die "docker compose rejects $COMPOSE_FILE with $ENV_FILE"
	log "configuration in $ENV_FILE is valid"
}

image_tag() {
	local sha
	sha=$(git -C "$ROOT" rev-parse --short=12 HEAD)
	# Uncommitted changes get a unique tag, so that a rollback never finds its
	# image tag moved to a newer build.
	if [[ -n $(git -C "$ROOT" status --porcelain --untracked-files=no) ]]; then
		sha="$sha-dirty-$(date -u +%Y%m%d%H%M%S)"
	fi
	printf '%s:%s\n' "$IMAGE_REPO" "$sha"
}

# previous_image prints the image of the running engine container or, when
# none runs, the last image that passed the smoke tests.
previous_image() {
	local cid
	cid=$(compose ps -q engine 2>/dev/null || true)
	if [[ -n $cid ]]; then
		docker inspect --format '{{.Config.Image}}' "$cid"
	elif [[ -f $STATE_DIR/last_good_image ]]; then
		cat "$STATE_DIR/last_good_image"
	fi
}

service_status() {
	local cid
	cid=$(compose ps -q "$1" 2>/dev/null || true)
	if [[ -z $cid ]]; then
		echo missing
		return
	fi
	docker inspect --format \
		'{{if .State.Health}}{{.State.Health.Status}}{{else}}{{.State.Status}}{{end}}' "$cid"
}

# wait_healthy waits until every named service reports healthy, and fails as
# soon as one is unhealthy or has exited, or when HEALTH_TIMEOUT passes.
wait_healthy() {
	local deadline=$((SECONDS + HEALTH_TIMEOUT)) service status pending
	log "waiting up to ${HEALTH_TIMEOUT}s for: $*"
	while true; do
		pending=()
		for service in "$@"; do
			status=$(service_status "$service")
			case $status in
			healthy) ;;
			unhealthy | exited | dead)
				compose logs --tail=50 "$service" >&2 || true
				die "$service is $status"
				;;
			*) pending+=("$service($status)") ;;
			esac
		done
		((${#pending[@]} == 0)) && break
		if ((SECONDS >= deadline)); then
			die "timed out waiting for: ${pending[*]}"
		fi
		sleep 3
	done
	log "healthy: $*"
}

run_smoke_tests() {
	local url=${SMOKE_BASE_URL:-http://127.0.0.1:${CONFIG[ENGINE_PORT]:-8080}}
	log "running smoke tests against $url"
	(cd "$ROOT" && SMOKE_BASE_URL="$url" go test ./smoke/ -run . -count=1)
}

rollback() {
	if [[ -z $PREVIOUS_IMAGE ]]; then
		log "no previous image to roll back to; the failed stack is left for inspection"
		return
	fi
	log "rolling back the engine to $PREVIOUS_IMAGE"
	export ENGINE_IMAGE="$PREVIOUS_IMAGE"
	compose up -d --no-build engine || die "could not start $PREVIOUS_IMAGE"
	wait_healthy engine
	log "rolled back to $PREVIOUS_IMAGE"
}

on_exit() {
	local status=$?
	if ((status != 0)) && [[ $ROLLBACK_ARMED == true ]]; then
		ROLLBACK_ARMED=false
		log "deploy failed (exit $status)"
		(rollback) || log "rollback failed too; see --logs engine"
	fi
	exit "$status"
}

deploy() {
	validate_config
	command -v go >/dev/null 2>&1 || die "go is needed on this host for the smoke tests"

	local image
	image=$(image_tag)
	PREVIOUS_IMAGE=$(previous_image)
	mkdir -p "$STATE_DIR"
	printf '%s\n' "${PREVIOUS_IMAGE:-none}" >"$STATE_DIR/previous_image"
	log "deploying $image (previous: ${PREVIOUS_IMAGE:-none})"

	log "building $image"
	DOCKER_BUILDKIT=1 docker build --build-arg "REVISION=${image#*:}" -t "$image" "$ROOT"
	export ENGINE_IMAGE="$image"

	trap on_exit EXIT
	ROLLBACK_ARMED=true

	compose up -d --no-build postgres redis
	wait_healthy postgres redis

	log "running migrations"
	compose run --rm --no-deps engine migrate

	compose up -d --no-build --remove-orphans
	wait_healthy "${SERVICES[@]}"

	run_smoke_tests

	ROLLBACK_ARMED=false
	printf '%s\n' "$image" >"$STATE_DIR/last_good_image"
	log "deployed $image"
}

main() {
	local command=deploy service=""
	while (($# > 0)); do
		case $1 in
		--env-file)
			(($# >= 2)) || die "--env-file needs a file"
			ENV_FILE=$2
			shift 2
			;;
		--check | --down) command=${1#--}; shift ;;
		--logs)
			command=logs
			shift
			if (($# > 0)) && [[ $1 != --* ]]; then
				service=$1
				shift
			fi
			;;
		-h | --help) usage; exit 0 ;;
		*) usage >&2; die "unknown argument: $1" ;;
		esac
	done
	[[ $ENV_FILE == /* ]] || ENV_FILE="$PWD/$ENV_FILE"

	case $command in
	check) validate_config ;;
	down)
		find_compose
		compose down --remove-orphans
		;;
	logs)
		find_compose
		if [[ -n $service ]]; then
			compose logs -f --tail=200 "$service"
		else
			compose logs -f --tail=200
		fi
		;;
	deploy) deploy ;;
	esac
}

main "$@"
