<?php
// Set-up data of the Steun e2e check, made with Moodle's own API (not through the UI):
// a course, an editing teacher, two participating teachers enrolled as STUDENTS (a
// professional-development course for a school's staff), and the course package as a SCORM
// activity with Moodle's default SCORM settings. Prints JSON with the ids.
//
//   php moodle_fixtures.php SCORM_ZIP PASSWORD
define('CLI_SCRIPT', true);
require(getenv('MOODLE_DIR') . '/config.php');
require_once($CFG->libdir . '/testing/generator/lib.php');
require_once($CFG->dirroot . '/course/lib.php');
require_once($CFG->dirroot . '/mod/scorm/lib.php');
require_once($CFG->dirroot . '/mod/scorm/locallib.php');

[$script, $zip, $password] = $argv;
\core\session\manager::set_user(get_admin());
$gen = new testing_data_generator();

$course = $DB->get_record('course', ['shortname' => 'STEUN-PD']);
if (!$course) {
    $course = $gen->create_course([
        'fullname' => 'Steun in het onderwijs (studiedag team)',
        'shortname' => 'STEUN-PD',
        'enablecompletion' => 1,
        'numsections' => 1,
    ]);
}
$users = [];
foreach ([
    ['username' => 'editingteacher', 'firstname' => 'Ellen', 'lastname' => 'Docent', 'role' => 'editingteacher'],
    ['username' => 'participant1', 'firstname' => 'Pieter', 'lastname' => 'Leerkracht', 'role' => 'student'],
    ['username' => 'participant2', 'firstname' => 'Anna', 'lastname' => 'Leerkracht', 'role' => 'student'],
] as $spec) {
    $user = $DB->get_record('user', ['username' => $spec['username']]);
    if (!$user) {
        $user = $gen->create_user([
            'username' => $spec['username'], 'password' => $password,
            'firstname' => $spec['firstname'], 'lastname' => $spec['lastname'],
            'email' => $spec['username'] . '@school.test',
        ]);
    }
    $gen->enrol_user($user->id, $course->id, $spec['role']);
    $users[$spec['username']] = (int)$user->id;
}

$cm = $DB->get_record_sql(
    "SELECT cm.id FROM {course_modules} cm JOIN {modules} m ON m.id = cm.module
      WHERE m.name = 'scorm' AND cm.course = ?", [$course->id]);
if (!$cm) {
    $usercontext = context_user::instance($USER->id);
    $draft = file_get_unused_draft_itemid();
    get_file_storage()->create_file_from_pathname([
        'component' => 'user', 'filearea' => 'draft', 'contextid' => $usercontext->id,
        'itemid' => $draft, 'filepath' => '/', 'filename' => basename($zip),
    ], $zip);
    $scorm = $gen->get_plugin_generator('mod_scorm')->create_instance([
        'course' => $course->id,
        'name' => 'Cursus: Steun in het onderwijs',
        'packagefile' => $draft,
        'section' => 1,
    ]);
    $cmid = (int)$scorm->cmid;
} else {
    $cmid = (int)$cm->id;
}
echo json_encode(['course' => (int)$course->id, 'users' => $users, 'scorm_cmid' => $cmid]), "\n";
