// Portable Pipelines for Jenkins: the shared-library step a service's
// Jenkinsfile calls (its whole Jenkinsfile is docs/snippets/service/Jenkinsfile):
//
//     @Library('portable-pipelines@v0.1.0') _
//     portablePipelines(moduleVersion: 'v0.1.0', devAwsRole: '...', releaseAwsRole: '...')
//
//   a build of a branch other than the release branch   -> stage dev
//   a change request into the release branch            -> stage pre-merge
//   a build of the release branch                       -> stage release
//
// Each stage runs the same two `dagger -m ... call` lines as
// .github/workflows/pipelines.yml and templates/pipelines/template.yml
// (tests/unit/test_ci_parity.py). Every `sh` step is a single-quoted string:
// Groovy interpolates nothing, and secrets reach the shell only as
// environment variables. Inputs, credentials and settings: docs/ci/jenkins.md.
import groovy.transform.Field

// Every input of the step and its default; null means required.
@Field final Map<String, String> INPUTS = [
    moduleVersion: '',
    module: 'github.com/acme/portable-pipelines',
    serviceDirectory: '.',
    releaseBranch: 'main',
    devTarget: 'eks',
    manifests: '',
    devAwsRole: null,
    releaseAwsRole: null,
    devAwsCredentialsId: 'pipelines-aws-oidc',
    releaseAwsCredentialsId: 'pipelines-aws-oidc',
    devKubeconfigCredentialsId: 'pipelines-dev-kubeconfig',
    statusTokenCredentialsId: 'pipelines-status-token',
    agentLabel: 'dagger',
]

@Field final String DAGGER_VERSION = '0.21.11'

void call(Map given = [:]) {
    // Bad input stops here, before an agent is even allocated.
    List<String> problems = inputProblems(given)
    if (problems) {
        error(problems.join('\n'))
    }
    Map<String, String> inputs = withDefaults(given)
    String trigger = triggerOf(env.BRANCH_NAME, env.CHANGE_ID, env.CHANGE_TARGET, env.TAG_NAME, inputs.releaseBranch)
    // A newer build of a branch aborts the one in flight, except on the
    // release branch: a release stopped half-way leaves tags no release
    // record describes.
    properties([disableConcurrentBuilds(abortPrevious: trigger != 'release')])
    if (trigger == null) {
        echo "portablePipelines: no pipeline for this build (neither a branch build nor a change request into ${inputs.releaseBranch})"
        return
    }
    timeout(time: 60, unit: 'MINUTES') {
        // An agent with Docker (the dagger CLI starts its engine there), or a
        // Kubernetes agent whose pod sets _EXPERIMENTAL_DAGGER_RUNNER_HOST.
        node(inputs.agentLabel) {
            Map<String, String> checkedOut = checkout(scm)
            // Image Updater's write-back commits say [skip ci]; GitHub and
            // GitLab skip those natively.
            if (trigger == 'release' && skipCi(currentBuild.changeSets)) {
                echo 'portablePipelines: [skip ci] in the changes: no release'
                return
            }
            if (!fileExists("${inputs.serviceDirectory}/pipelines.toml")) {
                error("input serviceDirectory is '${inputs.serviceDirectory}', which holds no pipelines.toml: set it to the service's directory (default .), or create pipelines.toml there (docs/configuration.md)")
            }
            try {
                withEnv(environment(inputs, checkedOut.GIT_COMMIT)) {
                    installDagger()
                    if (trigger == 'dev') {
                        dev(inputs)
                    } else if (trigger == 'pre-merge') {
                        preMerge(inputs)
                    } else {
                        release(inputs)
                    }
                }
            } finally {
                // Reports are published whatever the verdict.
                junit testResults: 'reports/junit/*.xml', allowEmptyResults: true
                archiveArtifacts artifacts: 'reports/**', allowEmptyArchive: true
            }
        }
    }
}

void installDagger() {
    stage('Install dagger') {
        // The pinned CLI, its tarball checked before it is unpacked (the
        // script is tools/install-dagger.sh, the same text on every CI
        // system), put outside the workspace so it is never uploaded as source.
        sh 'rm -rf reports'
        sh '''
            # The dagger CLI of DAGGER_VERSION into DAGGER_INSTALL_DIR, its tarball
            # checked before it is unpacked. The same text runs in every CI entry point
            # (.github/workflows/pipelines.yml, templates/pipelines/template.yml,
            # vars/portablePipelines.groovy; tests/integration/test_dagger_install.py holds
            # them equal and runs it). Each tarball's SHA-256 is committed below by
            # `python -m tools.pin_dagger`; an architecture without one is checked
            # against the release's checksums.txt, which comes from the same server as
            # the tarball and so proves only that the download is whole.
            # In a subshell: the job's own shell keeps its directory and options.
            (
            set -eu
            case "$(uname -m)" in
              x86_64 | amd64) arch=amd64 ;;
              aarch64 | arm64) arch=arm64 ;;
              *)
                echo "dagger CLI: no build for architecture $(uname -m) here; run the job on a linux amd64 or arm64 machine" >&2
                exit 2
                ;;
            esac
            case "${DAGGER_VERSION}/${arch}" in
              0.21.11/amd64) pinned= ;;
              0.21.11/arm64) pinned= ;;
              *)
                echo "dagger CLI: DAGGER_VERSION is '${DAGGER_VERSION}', but this entry point installs 0.21.11 (the version its module and engine were tested with): unset DAGGER_VERSION" >&2
                exit 2
                ;;
            esac
            fetch() {
              if command -v curl >/dev/null 2>&1; then
                curl -fsSL --retry 3 -o "$1" "$2"
              else
                wget -q -O "$1" "$2"
              fi
            }
            tarball="dagger_v${DAGGER_VERSION}_linux_${arch}.tar.gz"
            release="https://dl.dagger.io/dagger/releases/${DAGGER_VERSION}"
            mkdir -p "${DAGGER_INSTALL_DIR}"
            cd "${DAGGER_INSTALL_DIR}"
            rm -f dagger "${tarball}" checksums.txt expected.sha256
            fetch "${tarball}" "${release}/${tarball}"
            if [ -n "${pinned}" ]; then
              echo "${pinned}  ${tarball}" > expected.sha256
            else
              echo "dagger CLI: no SHA-256 of ${tarball} is committed yet; checking it against the release's checksums.txt" >&2
              fetch checksums.txt "${release}/checksums.txt"
              awk -v name="${tarball}" '$2 == name { print $1 "  " $2 }' checksums.txt > expected.sha256
              if [ ! -s expected.sha256 ]; then
                echo "dagger CLI: ${release}/checksums.txt lists no ${tarball}" >&2
                exit 1
              fi
            fi
            if ! sha256sum -c expected.sha256 >/dev/null; then
              echo "dagger CLI: ${tarball} does not match the SHA-256 $(cut -d ' ' -f 1 expected.sha256); refusing to unpack it" >&2
              rm -f "${tarball}"
              exit 1
            fi
            tar -xzf "${tarball}" dagger
            rm -f "${tarball}"
            echo "dagger CLI ${DAGGER_VERSION} (linux/${arch}) installed in ${DAGGER_INSTALL_DIR}"
            )
        '''
    }
}

void dev(Map<String, String> inputs) {
    stage('dev') {
        List bindings = [
            awsIdToken(inputs.devAwsCredentialsId),
            string(credentialsId: inputs.statusTokenCredentialsId, variable: 'STATUS_TOKEN'),
        ]
        List<String> targetEnv = [
            "PIPELINES_AWS_ROLE=${inputs.devAwsRole}".toString(),
            'PIPELINES_REPORT_STATUS=true',
        ]
        // Only the eks target reads a kubeconfig and manifests: for ec2
        // neither variable exists, and the line below passes neither flag.
        if (inputs.devTarget == 'eks') {
            bindings << string(credentialsId: inputs.devKubeconfigCredentialsId, variable: 'PIPELINES_KUBECONFIG')
            targetEnv << "PIPELINES_MANIFESTS=${inputs.manifests}".toString()
        }
        withEnv(targetEnv) {
            withCredentials(bindings) {
                sh '''
                    dagger -m "$PIPELINES_MODULE${PIPELINES_VERSION:+@$PIPELINES_VERSION}" call --source="$PIPELINES_SOURCE" \
                      --aws-web-identity-token=env://PIPELINES_OIDC_TOKEN \
                      --aws-role-arn="$PIPELINES_AWS_ROLE" \
                      ${PIPELINES_KUBECONFIG:+"--kubeconfig=env://PIPELINES_KUBECONFIG"} \
                      ${STATUS_TOKEN:+"--status-token=env://STATUS_TOKEN"} \
                      dev --sha="$PIPELINE_SHA" --branch="$PIPELINE_BRANCH" --report-status="$PIPELINES_REPORT_STATUS" \
                      --run-url="$PIPELINE_RUN_URL" ${PIPELINES_MANIFESTS:+"--manifests=$PIPELINES_MANIFESTS"} \
                      reports export --path=reports
                '''
            }
        }
        sh '''
            dagger -m "$PIPELINES_MODULE${PIPELINES_VERSION:+@$PIPELINES_VERSION}" call --source="$PIPELINES_SOURCE" verdict --run=reports/run.json
        '''
    }
}

void preMerge(Map<String, String> inputs) {
    stage('pre-merge') {
        // A change request from a fork (CHANGE_FORK, set by the branch
        // source) is handed no token: its code would run with it. It reports
        // its tests; the forge's required status stays unset.
        boolean fork = env.CHANGE_FORK ? true : false
        List bindings = fork ? [] : [string(credentialsId: inputs.statusTokenCredentialsId, variable: 'STATUS_TOKEN')]
        withEnv(["PIPELINES_REPORT_STATUS=${!fork}".toString()]) {
            withCredentials(bindings) {
                sh '''
                    dagger -m "$PIPELINES_MODULE${PIPELINES_VERSION:+@$PIPELINES_VERSION}" call --source="$PIPELINES_SOURCE" \
                      ${STATUS_TOKEN:+"--status-token=env://STATUS_TOKEN"} \
                      pre-merge --sha="$PIPELINE_SHA" --run-url="$PIPELINE_RUN_URL" --report-status="$PIPELINES_REPORT_STATUS" \
                      reports export --path=reports
                '''
            }
        }
        sh '''
            dagger -m "$PIPELINES_MODULE${PIPELINES_VERSION:+@$PIPELINES_VERSION}" call --source="$PIPELINES_SOURCE" verdict --run=reports/run.json
        '''
    }
}

void release(Map<String, String> inputs) {
    stage('release') {
        withEnv([
            "PIPELINES_AWS_ROLE=${inputs.releaseAwsRole}".toString(),
            'PIPELINES_REPORT_STATUS=true',
        ]) {
            withCredentials([
                awsIdToken(inputs.releaseAwsCredentialsId),
                string(credentialsId: inputs.statusTokenCredentialsId, variable: 'STATUS_TOKEN'),
            ]) {
                sh '''
                    dagger -m "$PIPELINES_MODULE${PIPELINES_VERSION:+@$PIPELINES_VERSION}" call --source="$PIPELINES_SOURCE" \
                      --aws-web-identity-token=env://PIPELINES_OIDC_TOKEN \
                      --aws-role-arn="$PIPELINES_AWS_ROLE" \
                      ${STATUS_TOKEN:+"--status-token=env://STATUS_TOKEN"} \
                      --trust-level=release \
                      release --sha="$PIPELINE_SHA" --run-url="$PIPELINE_RUN_URL" --report-status="$PIPELINES_REPORT_STATUS" \
                      reports export --path=reports
                '''
            }
        }
        sh '''
            dagger -m "$PIPELINES_MODULE${PIPELINES_VERSION:+@$PIPELINES_VERSION}" call --source="$PIPELINES_SOURCE" verdict --run=reports/run.json
        '''
    }
}

// AWS through an "OpenID Connect id token" credential of the OpenID Connect
// Provider plugin (oidc-provider): bound as secret text, it yields a fresh
// JWT for this build whose `sub` is, by default, the URL of the build's own
// job, and a multibranch project has one job per branch. The release role
// trusts the release branch's job URL only, so a branch build that binds the
// same credential, even from an edited Jenkinsfile, gets a token that role
// refuses. No AWS key is stored in Jenkins (docs/ci/jenkins.md).
Map awsIdToken(String credentialsId) {
    return string(credentialsId: credentialsId, variable: 'PIPELINES_OIDC_TOKEN')
}

// What every stage reads: the module, the service and the build, as the
// variables the dagger lines use. _EXPERIMENTAL_DAGGER_RUNNER_HOST and
// DAGGER_CLOUD_TOKEN are not set here: when the agent sets them (shared
// engine, traces) they apply.
List<String> environment(Map<String, String> inputs, String commit) {
    return [
        "DAGGER_VERSION=${DAGGER_VERSION}".toString(),
        "DAGGER_INSTALL_DIR=${env.WORKSPACE_TMP}/dagger-cli".toString(),
        "PATH+DAGGER=${env.WORKSPACE_TMP}/dagger-cli".toString(),
        "PIPELINES_MODULE=${inputs.module}".toString(),
        "PIPELINES_VERSION=${inputs.moduleVersion}".toString(),
        "PIPELINES_SOURCE=${inputs.serviceDirectory}".toString(),
        "PIPELINE_SHA=${commit}".toString(),
        "PIPELINE_BRANCH=${env.BRANCH_NAME}".toString(),
        "PIPELINE_RUN_URL=${env.BUILD_URL}".toString(),
    ]
}

// Every mistake in the inputs, each naming the input and the fix.
@NonCPS
List<String> inputProblems(Map given) {
    List<String> problems = []
    given.keySet().each { name ->
        if (!INPUTS.containsKey(name)) {
            problems << "portablePipelines: unknown input '${name}': the inputs are ${INPUTS.keySet().join(', ')}; fix its name in the Jenkinsfile (docs/ci/jenkins.md)".toString()
        }
    }
    Map<String, String> inputs = withDefaults(given)
    inputs.each { name, value ->
        if (value == null || value == '') {
            if (INPUTS[name] == null) {
                problems << "input ${name} is missing: set it in the Jenkinsfile (docs/ci/jenkins.md)".toString()
            }
        }
    }
    String module = inputs.module ?: ''
    String version = inputs.moduleVersion ?: ''
    boolean localModule = module == '.' || module.startsWith('./') || module.startsWith('/')
    if (localModule && version) {
        problems << "input moduleVersion is '${version}' but module '${module}' is a local path: leave moduleVersion empty, or set module to the module's git address".toString()
    }
    if (!localModule && !(version ==~ /v[0-9]+\.[0-9]+\.[0-9]+/)) {
        problems << "input moduleVersion is '${version}', which is not a release tag: set it to the tag vX.Y.Z of ${module} that you pin, e.g. v0.1.0 (a branch or a commit would move under you)".toString()
    }
    if (!(inputs.devTarget in ['eks', 'ec2'])) {
        problems << "input devTarget is '${inputs.devTarget}': set it to eks or ec2, the [deploy] target of the service's pipelines.toml".toString()
    }
    return problems
}

@NonCPS
Map<String, String> withDefaults(Map given) {
    Map<String, String> inputs = [:]
    INPUTS.each { name, fallback ->
        Object value = given.containsKey(name) ? given[name] : fallback
        inputs[name] = value == null ? null : value.toString()
    }
    return inputs
}

// Which pipeline a build runs, from the multibranch variables; null: none.
@NonCPS
String triggerOf(String branch, String changeId, String changeTarget, String tag, String releaseBranch) {
    if (changeId) {
        return changeTarget == releaseBranch ? 'pre-merge' : null
    }
    if (tag || !branch) {
        return null
    }
    return branch == releaseBranch ? 'release' : 'dev'
}

@NonCPS
boolean skipCi(Object changeSets) {
    return changeSets.any { changeSet -> changeSet.items.any { item -> item.msg.contains('[skip ci]') } }
}
