<?php
// For PHP's built-in server: `php -S 127.0.0.1:8081 -t example/php example/php/router.php`.
// jQuery comes from Debian's libjs-jquery package (apt-get install libjs-jquery), not a copy here;
// everything else is served as the built-in server serves it.
if (parse_url($_SERVER['REQUEST_URI'], PHP_URL_PATH) === '/jquery.min.js') {
    $jquery = '/usr/share/javascript/jquery/jquery.min.js';
    if (!is_file($jquery)) {
        http_response_code(404);
        exit("jQuery not found at {$jquery}: apt-get install libjs-jquery\n");
    }
    header('Content-Type: text/javascript');
    readfile($jquery);
    return true;
}
return false;
