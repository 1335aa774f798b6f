# Test support: sign virtual-hosted requests with botocore's SigV2 signer (HmacV1Auth) without
# sending them, and print method, host, path, query and headers as JSON. botocore signs
# virtual-hosted requests with auth_path = /<bucket><path>, which is what the server rebuilds.
import json
import sys

from botocore.auth import HmacV1Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

akid, secret = sys.argv[1], sys.argv[2]
cases = json.loads(sys.argv[3])  # [[method, bucket, raw_path, raw_query], ...]
out = []
for method, bucket, raw_path, raw_query in cases:
    host = bucket + '.s3.example.test'
    url = 'http://' + host + raw_path + ('?' + raw_query if raw_query else '')
    req = AWSRequest(method=method, url=url, headers={'Content-Type': 'text/plain', 'x-amz-meta-a': 'b'})
    req.auth_path = '/' + bucket + raw_path
    HmacV1Auth(Credentials(akid, secret)).add_auth(req)
    headers = {k.lower(): v for k, v in req.headers.items()}
    headers['host'] = host
    out.append({'method': method, 'bucket': bucket, 'rawPath': raw_path, 'rawQuery': raw_query, 'headers': headers})
print(json.dumps(out))
