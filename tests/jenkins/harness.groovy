// Runs vars/portablePipelines.groovy (and a Jenkinsfile that calls it) on
// plain Groovy, with the Jenkins steps it uses replaced by recorders, and
// prints what the build would do as JSON: the stages entered, every `sh`
// script with the environment it sees, the credentials bound, the post
// steps, or the error that stopped it.
//
// Used by tests/integration/test_jenkins_library.py with the Groovy runtime
// that npm-groovy-lint ships (node_modules/npm-groovy-lint/lib/java/groovy):
//
//     java -cp 'node_modules/npm-groovy-lint/lib/java/groovy/lib/*' \
//         groovy.ui.GroovyMain tests/jenkins/harness.groovy runs.json
//
// runs.json: {"library": PATH, "runs": [{"name", "env", "inputs" | "jenkinsfile",
//             "files", "changelog", "commit"}]}
import groovy.json.JsonOutput
import groovy.json.JsonSlurper
import org.codehaus.groovy.control.CompilerConfiguration
import org.codehaus.groovy.control.customizers.ImportCustomizer
import org.codehaus.groovy.runtime.InvokerHelper

class HarnessError extends RuntimeException {

    HarnessError(String message) {
        super(message)
    }

}

Map spec = new JsonSlurper().parse(new File(args[0])) as Map
CompilerConfiguration config = new CompilerConfiguration()
config.addCompilationCustomizers(new ImportCustomizer().addImport('NonCPS', 'harness.NonCPS'))
GroovyClassLoader loader = new GroovyClassLoader(this.class.classLoader, config)
// Jenkins imports @NonCPS into every pipeline script; here it is a marker.
loader.parseClass('''
    package harness
    import java.lang.annotation.*
    @Retention(RetentionPolicy.RUNTIME) @interface NonCPS {}
''')
// Compiled once; each run gets a fresh instance with its own steps.
Class libraryClass = loader.parseClass(new File(spec.library).text, 'portablePipelines.groovy')
Map<String, Class> jenkinsfiles = [:]

List results = []
for (Map run : spec.runs) {
    List events = []
    List<Map> envStack = [[WORKSPACE_TMP: '/tmp/ws@tmp', BUILD_URL: 'https://jenkins.example.com/job/x/1/'] + (run.env ?: [:])]
    List<String> stageStack = []
    Closure currentEnv = {
        Map merged = [:]
        envStack.each { merged.putAll(it) }
        return merged
    }
    Binding binding = new Binding()
    binding.setVariable('env', currentEnv())
    binding.setVariable('scm', 'scm')
    List changeSets = run.changelog ? [[items: run.changelog.collect { [msg: it] }]] : []
    binding.setVariable('currentBuild', [changeSets: changeSets])
    binding.setVariable('error', { String message -> throw new HarnessError(message) })
    binding.setVariable('echo', { Object message -> events << [type: 'echo', message: message.toString()] })
    binding.setVariable('properties', { List list -> events << [type: 'properties', value: list] })
    binding.setVariable('disableConcurrentBuilds', { Map options -> [disableConcurrentBuilds: options] })
    binding.setVariable('timeout', { Map options, Closure body ->
        events << [type: 'timeout', value: options]
        body()
    })
    binding.setVariable('node', { String label, Closure body ->
        events << [type: 'node', label: label]
        body()
    })
    binding.setVariable('checkout', { Object scm ->
        events << [type: 'checkout']
        return [GIT_COMMIT: run.commit ?: '0123456789abcdef0123456789abcdef01234567']
    })
    binding.setVariable('fileExists', { String path ->
        String normal = path.replaceAll('^(\\./)+', '').replaceAll('/\\./', '/')
        return (run.files ?: []).contains(normal)
    })
    binding.setVariable('stage', { String name, Closure body ->
        events << [type: 'stage', name: name]
        stageStack << name
        try {
            body()
        } finally {
            stageStack.removeLast()
        }
    })
    binding.setVariable('withEnv', { List entries, Closure body ->
        Map overlay = [:]
        entries.each { String entry ->
            String name = entry.substring(0, entry.indexOf('='))
            if (!name.contains('+')) {
                overlay[name] = entry.substring(entry.indexOf('=') + 1)
            }
        }
        envStack << overlay
        binding.setVariable('env', currentEnv())
        try {
            body()
        } finally {
            envStack.removeLast()
            binding.setVariable('env', currentEnv())
        }
    })
    binding.setVariable('string', { Map options -> [kind: 'string', credentialsId: options.credentialsId, variable: options.variable] })
    binding.setVariable('withCredentials', { List bindings, Closure body ->
        Map overlay = [:]
        List bound = []
        bindings.each { Map item ->
            if (item.kind == 'string') {
                overlay[item.variable] = "<credential ${item.credentialsId}>".toString()
                bound << [kind: 'string', credentialsId: item.credentialsId, variable: item.variable]
            } else if (item['$class'] == 'AmazonWebServicesCredentialsBinding') {
                overlay[item.accessKeyVariable] = "<aws ${item.credentialsId}>".toString()
                overlay[item.secretKeyVariable] = "<aws ${item.credentialsId}>".toString()
                if (item.roleArn) {
                    overlay.AWS_SESSION_TOKEN = "<aws session ${item.roleArn}>".toString()
                }
                bound << [kind: 'aws', credentialsId: item.credentialsId, roleArn: item.roleArn]
            } else {
                throw new HarnessError("the harness does not know the binding ${item}")
            }
        }
        events << [type: 'credentials', stage: stageStack ? stageStack.last() : null, bindings: bound]
        envStack << overlay
        try {
            body()
        } finally {
            envStack.removeLast()
        }
    })
    binding.setVariable('sh', { String script ->
        events << [type: 'sh', stage: stageStack ? stageStack.last() : null, script: script, env: currentEnv()]
    })
    binding.setVariable('junit', { Map options -> events << [type: 'junit', value: options] })
    binding.setVariable('archiveArtifacts', { Map options -> events << [type: 'archiveArtifacts', value: options] })
    binding.setVariable('legacySCM', { Object scm -> 'legacySCM' })
    binding.setVariable('library', { Map options -> events << [type: 'library', value: options] })

    Script library = InvokerHelper.createScript(libraryClass, binding)
    binding.setVariable('portablePipelines', { Map inputs -> library.call(inputs) })
    String error = null
    try {
        if (run.jenkinsfile) {
            // @Library is Jenkins' own AST transform: drop the line, keep the rest verbatim.
            String text = new File(run.jenkinsfile).text
            java.util.regex.Matcher annotation = text =~ /(?m)^@Library\('([^']+)'\)\s+_.*$/
            if (annotation.find()) {
                events << [type: 'library', value: [annotation: annotation.group(1)]]
            }
            String source = text.replaceAll(/(?m)^@Library\('[^']+'\)\s+_.*$/, '// @Library')
            Class compiled = jenkinsfiles.computeIfAbsent(run.jenkinsfile) { loader.parseClass(source, 'Jenkinsfile.groovy') }
            InvokerHelper.createScript(compiled, binding).run()
        } else {
            library.call(run.inputs ?: [:])
        }
    } catch (HarnessError failure) {
        error = failure.message
    }
    results << [name: run.name, error: error, events: events]
}
println JsonOutput.toJson(results)
