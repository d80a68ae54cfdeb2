<?php
// Sends one SMS with Symfony's OvhCloud notifier (Debian's php-symfony-ovh-cloud-notifier), configured by
// its DSN as a Symfony application is (`ovhcloud://AK:AS@host:port?consumer_key=…&service_name=…[&sender=…]`),
// to a Relais whose certificate is RELAIS_CA_FILE; prints one JSON line, and exits 1 on a refusal.
require '/usr/share/php/Symfony/Component/Notifier/Bridge/OvhCloud/autoload.php';
require '/usr/share/php/Symfony/Component/HttpClient/autoload.php';

use Symfony\Component\HttpClient\HttpClient;
use Symfony\Component\Notifier\Bridge\OvhCloud\OvhCloudTransportFactory;
use Symfony\Component\Notifier\Message\SmsMessage;
use Symfony\Component\Notifier\Transport\Dsn;

$env = fn (string $name) => getenv($name) === false ? '' : getenv($name);
$client = HttpClient::create(['cafile' => $env('RELAIS_CA_FILE')]);
try {
    $transport = (new OvhCloudTransportFactory(null, $client))->create(new Dsn($env('OVH_DSN')));
    $sent = $transport->send(new SmsMessage($env('SMS_TO'), $env('SMS_TEXT')));
    echo json_encode(['id' => $sent->getMessageId(), 'transport' => (string) $transport]), "\n";
} catch (\Throwable $e) {
    echo json_encode(['error' => get_class($e), 'message' => $e->getMessage()]), "\n";
    exit(1);
}
